"""The first pass's quick read of a YAML record file: libyaml's own composer and PyYAML's
constructor, without compose.py's line map of every value (records/located.load_yaml_documents
builds one in Python, from libyaml's events, which costs twice the parse).

It gives each record only the lines the first pass asks for: the record's own, its id's and
its reference fields' (records/index.IndexBuilder), found by walking the composed nodes. The
walk gives up on a value reached through an alias (libyaml shares the anchored node, whose
line is the anchor's, where compose.py gives the alias's own), and the read gives up on what
libyaml's composer might not survive (nesting it recurses into) or what changes the nodes
(merge keys): the caller reads such a file exactly. Everything else the exact reader checks
(duplicate keys, values no report can hold, compose.py's bounds) is left to the reads that
keep the data: the worker reads a dropped record again exactly, and the pass reads a file
exactly when it keeps one of its records whole.
"""
from __future__ import annotations

import re

import yaml

from checker.records.compose import MAX_DEPTH, escape_pointer_token
from checker.records.located import Document, record_loader

_STR = "tag:yaml.org,2002:str"
_ERRORS = (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)


def _may_nest_deeper(text: str) -> bool:
    """Whether the text might nest deeper than MAX_DEPTH: each level of block nesting takes at
    least one more column of indentation or `- `, `? `, `: ` indicators every two levels, and
    each flow level a bracket."""
    budget = MAX_DEPTH - 2 - text.count("[") - text.count("{")
    return budget < 0 or re.search(r"^[ \t?:-]{%d,}" % (budget // 2 + 1), text, re.M) is not None


def quick_documents(text: str) -> list[tuple[object, yaml.Node]] | None:
    """(data, root node) of every document of a YAML text, or None (see the module's docstring)."""
    if "<<" in text or _may_nest_deeper(text):
        return None
    loader = record_loader(text)
    try:
        found = []
        while loader.check_node():
            node = loader.get_node()
            found.append((loader.construct_document(node), node))
        return found
    except _ERRORS:
        return None
    finally:
        loader.dispose()


def record_document(data, item: yaml.Node, root: str, first_line: int, fields) -> Document | None:
    """The Document of the record at `item` (pointer `root`) of a document holding `data`:
    the lines of the record, its id and each value its `fields` (tuples of pointer tokens,
    `*` for every item of a list) name; None when one is reached through an alias."""
    lines = {root: item.start_mark.line + 1}
    for parts in (("id",), *fields):
        if not _walk(item, parts, root, lines):
            return None
    return Document(data, lines, first_line)


def _walk(node: yaml.Node, parts: tuple[str, ...], pointer: str, lines: dict[str, int]) -> bool:
    """Adds the lines of the values at `parts` under `node`; False at an alias: a node that
    starts before the place it stands at (an anchor comes before its aliases)."""
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(node, yaml.SequenceNode):
            return True
        after = node.start_mark.index
        for i, item in enumerate(node.value):
            if item.start_mark.index < after:
                return False
            after = item.end_mark.index
            lines[f"{pointer}/{i}"] = item.start_mark.line + 1
            if not _walk(item, rest, f"{pointer}/{i}", lines):
                return False
        return True
    if not isinstance(node, yaml.MappingNode):
        return True
    found = None
    for key, value in node.value:       # the last of duplicate keys, as the constructor keeps it
        if isinstance(key, yaml.ScalarNode) and key.tag == _STR and key.value == head:
            found = key, value
    if found is None:
        return True
    key, value = found
    if value.start_mark.index < key.end_mark.index:
        return False
    child = f"{pointer}/{escape_pointer_token(head)}"
    lines[child] = value.start_mark.line + 1
    return _walk(value, rest, child, lines)
