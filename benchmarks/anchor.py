"""The physical-limit anchor: parse every record file under a folder and do nothing else.

    python benchmarks/anchor.py FOLDER

JSON Lines with orjson (the fastest JSON parser for Python, a dependency of cbcheck), YAML
with libyaml's C loader (PyYAML's CSafeLoader). No checker code runs, so the figure is what
reading the same bytes costs at the least. Prints the parser used and the count of records
parsed.
"""
from __future__ import annotations

import os
import sys

import orjson
import yaml

JSON_PARSER, loads = "orjson", orjson.loads


def parse_folder(folder: str) -> tuple[int, set[str]]:
    records, parsers = 0, set()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.endswith(".jsonl"):
                parsers.add(JSON_PARSER)
                with open(path, "rb") as f:
                    records += sum(1 for line in f if line.strip() and loads(line) is not None)
            elif name.endswith((".yaml", ".yml")):
                parsers.add("libyaml")
                with open(path, "rb") as f:
                    for doc in yaml.load_all(f, Loader=yaml.CSafeLoader):
                        records += len(doc) if isinstance(doc, list) else doc is not None
    return records, parsers


if __name__ == "__main__":
    count, used = parse_folder(sys.argv[1])
    print(f"{count} records parsed with {', '.join(sorted(used))}")
