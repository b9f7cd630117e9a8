"""The calculator's input: one YAML mapping (`input.schema.json` documents it), checked against
its JSON Schema and then against the parameters, every problem located (file, line, pointer)."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator

from checker.derive import table1_days
from checker.errors import Problem
from checker.records.located import Document, escape_pointer_token, load_yaml_documents

EXAMPLE = "persons: 120, adjustments: [{factor: few_services, justification: ...}] (see README, audit-time)"


@lru_cache(maxsize=1)
def input_schema() -> dict:
    return json.loads((resources.files("checker.audit_time") / "input.schema.json").read_text(encoding="utf-8"))


def _pointer(parts) -> str:
    return "".join("/" + escape_pointer_token(p) for p in parts)


def _expected(error) -> str:
    if error.validator == "additionalProperties":
        return "one of the keys " + ", ".join(sorted(error.schema.get("properties", {})))
    if error.validator == "required":
        return "the key to be present"
    if error.validator == "dependentRequired":
        return "a justification beside every reduction"
    if error.validator == "type":
        return f"a value of type {error.validator_value}"
    return f"{error.validator} {error.validator_value!r}"


def read_input(path: Path) -> tuple[dict | None, Document | None, list[Problem]]:
    """The input file's mapping and its located document, or the problems that stop it."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, None, [Problem(file, None, "", f"not UTF-8 text ({exc.reason})", "a UTF-8 YAML file")]
    except OSError as exc:
        return None, None, [Problem(file, None, "", f"cannot read: {exc.strerror}", "a readable YAML file")]
    docs, problems = load_yaml_documents(text, file)
    if problems:
        return None, None, problems
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        return None, None, [Problem(file, None, "", "expected one YAML mapping", EXAMPLE)]
    return docs[0].data, docs[0], []


def check_input(data: dict, file: str, doc: Document | None, factors: dict[str, dict], table: list) -> list[Problem]:
    """Every problem with `data`: its shape (the JSON Schema), then what the schema cannot say
    (`factors` are the listed adjustment factors by name, `table` the Table 1 bands)."""
    def at(pointer: str, message: str, expected: str) -> Problem:
        return Problem(file, doc.line_of(pointer) if doc else None, pointer, message, expected)

    problems = []
    for error in sorted(Draft202012Validator(input_schema()).iter_errors(data),
                        key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        pointer = _pointer(error.absolute_path)
        if error.validator == "additionalProperties":   # each unknown key at its own line
            for key in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
                problems.append(at(f"{pointer}/{escape_pointer_token(key)}", f"unknown key {key!r}", _expected(error)))
        else:
            problems.append(at(pointer, error.message, _expected(error)))
    if problems:
        return problems
    for i, adj in enumerate(data.get("adjustments") or []):
        listed = factors.get(adj["factor"])
        if listed is not None and "percent" in adj:
            problems.append(at(f"/adjustments/{i}/percent", f"{adj['factor']!r} is a listed factor "
                               f"({listed['percent']:+g} % in the parameter audit_time_factors)",
                               "no percent here: change the listed value with --params, or name a factor of your own"))
        elif listed is None and "percent" not in adj:
            problems.append(at(f"/adjustments/{i}/factor", f"{adj['factor']!r} is not a listed factor and has no percent",
                               "one of " + ", ".join(sorted(factors)) + ", or a factor of your own with its percent"))
    names = [a["factor"] for a in data.get("adjustments") or []]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(at(f"/adjustments/{i}/factor", f"factor {name!r} is listed twice",
                               "each factor once: counting one feature twice is what assessors look for"))
    heads = [("/persons", data["persons"])] + [(f"/sites/{i}/persons", x["persons"])
                                               for i, x in enumerate(data.get("sites") or [])]
    problems += [at(ptr, f"{n} persons is above the last band of the parameter sm_table1_audit_days",
                    "at most the last band's persons, or a longer table with --params (Table 1 of your licensed copy)")
                 for ptr, n in heads if table1_days(n, table) is None]
    return problems + _site_problems(data.get("sites"), data["persons"], at)


def _site_problems(sites, persons: int, at) -> list[Problem]:
    if not sites:
        return []
    problems = []
    at_sites = sum(s["persons"] for s in sites)
    if at_sites > persons:
        problems.append(at("/sites", f"the sites' persons add up to {at_sites}, more than the {persons} persons "
                           "the calculation rests on", "persons to count everyone at every site"))
    central = [i for i, s in enumerate(sites) if s.get("central")]
    if len(central) != 1:
        problems.append(at("/sites", f"{len(central)} sites are marked central",
                           "exactly one site with central: true (IAF MD 1: the central function)"))
    seen = set()
    for i, site in enumerate(sites):
        if site["name"] in seen:
            problems.append(at(f"/sites/{i}/name", f"site {site['name']!r} is listed twice", "unique site names"))
        seen.add(site["name"])
        if site.get("central") and site.get("sampled"):
            problems.append(at(f"/sites/{i}/sampled", "the central site is audited every time, not sampled",
                               "sampled only on non-central sites"))
    return problems
