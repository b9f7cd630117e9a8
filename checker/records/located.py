"""Safe YAML/JSON loading that remembers where every value came from.

Returns plain data plus a map from JSON Pointer to line number, so a finding or a schema
error can name the line. Duplicate mapping keys are reported (PyYAML would keep the last one
silently), and YAML's implicit timestamps are switched off so dates stay the strings the
schemas validate.
"""
from __future__ import annotations

import json

import yaml

from checker.errors import Problem


# libyaml's parser when PyYAML was built with it (several times faster); both are safe loaders.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):
    """A safe loader without the implicit timestamp type: `2024-01-05` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def escape_pointer_token(token) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


class Document:
    """One loaded document: its data and where each part of it stands in the file."""

    def __init__(self, data, lines: dict[str, int], first_line: int):
        self.data = data
        self.lines = lines
        self.first_line = first_line

    def line_of(self, pointer: str) -> int:
        """The line of the value at `pointer`, or of its nearest ancestor that has one."""
        return nearest(self.lines, pointer, self.first_line)


def nearest(by_pointer: dict, pointer: str, default):
    """The entry for `pointer`, else for its nearest ancestor, else `default` (for the root)."""
    while True:
        if pointer in by_pointer:
            return by_pointer[pointer]
        if not pointer:
            return default
        pointer = pointer.rsplit("/", 1)[0]


def _walk(node, pointer, lines, problems, file):
    lines[pointer] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(Problem(file, key_node.start_mark.line + 1, pointer or "/",
                                        f"duplicate key {key!r} (first at line {seen[key]})",
                                        "each key once per mapping"))
            seen.setdefault(key, key_node.start_mark.line + 1)
            _walk(value_node, f"{pointer}/{escape_pointer_token(key)}", lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, f"{pointer}/{i}", lines, problems, file)


def load_yaml_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Every document of a (possibly multi-document) YAML stream; JSON is read the same way."""
    problems: list[Problem] = []
    documents: list[Document] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[str, int] = {}
            _walk(node, "", lines, problems, file)
            data = loader.construct_document(node)
            documents.append(Document(data, lines, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(file, mark.line + 1 if mark else None, "",
                                f"not valid YAML: {exc.problem or exc}", "well-formed YAML"))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, None, "", f"not valid YAML: {exc}", "well-formed YAML"))
    finally:
        loader.dispose()
    return documents, problems


def _parse_json(text: str, file: str):
    """Strict JSON with duplicate keys reported; (data or None, problems)."""
    problems: list[Problem] = []

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        for k in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(Problem(file, None, "", f"duplicate key {k!r}", "each key once per object"))
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=no_duplicates), problems
    except json.JSONDecodeError as exc:
        return None, [Problem(file, exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})",
                              "well-formed JSON")]


def load_json_document(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """A JSON file: strict JSON parsing for correctness, YAML composition only for line numbers."""
    data, problems = _parse_json(text, file)
    if data is None:
        return [], problems
    lines: dict[str, int] = {}
    try:
        # JSON is (nearly) YAML; where composition fails we simply know fewer lines.
        node = _Loader(text).get_single_node()
        if node is not None:
            _walk(node, "", lines, [], file)
    except yaml.YAMLError:
        pass
    return [Document(data, lines, 1)], problems


def load_json_lines(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """JSON Lines: one document per non-blank line; every bad line is reported, none skipped."""
    documents, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        data, errs = _parse_json(raw, file)
        problems += [Problem(err.file, number, err.pointer, err.message, err.expected) for err in errs]
        if data is not None:
            documents.append(Document(data, {"": number}, number))   # every field is on its record's line
    return documents, problems
