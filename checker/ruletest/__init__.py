"""`cbcheck rules test`: every rule's fixtures (the `.test.yaml` beside it), like `semgrep --test`.

It sits above the pipeline, because each case runs the whole pipeline (files, validation,
partitions, durable_rules in a worker) and the plain-Python reference evaluator:
`fixtures` reads a fixture file into cases, `runner` runs them and says what failed."""
