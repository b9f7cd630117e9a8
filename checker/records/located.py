"""Safe YAML/JSON loading that remembers where every value came from.

Returns plain data plus a map from JSON Pointer to line number, so a finding or a schema
error can name the line. Duplicate mapping keys are reported (PyYAML would keep the last one
silently), and YAML's implicit timestamps are switched off so dates stay the strings the
schemas validate. Values no report can hold (values.py) are located problems here, for every
file cbcheck reads.
"""
from __future__ import annotations

import json
import math

import orjson
import yaml

from checker.errors import Problem
from checker.records.compose import MAX_DEPTH, MAX_INT_DIGITS, BoundedComposer, Refused, escape_pointer_token
from checker.records.compose_direct import DirectComposer, Unusual
from checker.records.values import INT64, SURROGATE_ESCAPE, number_problem, text_problem


# libyaml's parser when PyYAML was built with it (several times faster); both are safe loaders.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):
    """A safe loader without the implicit timestamp type: `2024-01-05` stays a string."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def record_loader(text: str):
    """The safe loader record files are read with (its caller disposes of it)."""
    return _Loader(text)


class Document:
    """One loaded document: its data and where each part of it stands in the file."""

    def __init__(self, data, lines: dict[str, int], first_line: int, not_json: list[Problem] | None = None,
                 unsound: list[Problem] | None = None):
        self.data = data
        self.lines = lines
        self.first_line = first_line
        self.not_json = not_json or []      # YAML data JSON cannot hold; record files refuse it
        self.unsound = unsound or []        # values no reader may use; the loader returns them as problems

    def line_of(self, pointer: str) -> int:
        """The line of the value at `pointer`, or of its nearest ancestor that has one."""
        return nearest(self.lines, pointer, self.first_line)


class LineDocument(Document):
    """A JSON Lines line's document: every value of it stands on its line (as json_line_document
    says), without the pointer map's walk."""

    def __init__(self, data, number: int):      # Document's, without its defaults' work: one per line
        self.data, self.lines, self.first_line, self.not_json, self.unsound = data, {"": number}, number, [], []

    def line_of(self, pointer: str) -> int:
        return self.first_line


def nearest(by_pointer: dict, pointer: str, default):
    """The entry for `pointer`, else for its nearest ancestor, else `default` (for the root)."""
    while True:
        if pointer in by_pointer:
            return by_pointer[pointer]
        if not pointer:
            return default
        pointer = pointer.rsplit("/", 1)[0]


def load_yaml_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Every document of a (possibly multi-document) YAML stream. A document that crosses one
    of compose.py's bounds (depth, alias expansion, integer length) ends the file with a
    located problem; the documents before it are kept. Built directly from the parser's
    events (compose_direct.py), or through nodes where the text holds what only that path
    builds exactly."""
    return _composed(_yaml_documents, text, file)


def _composed(read, text: str, file: str):
    """`read(text, file, composer class)` with the direct composer, or through nodes where the
    text holds what only that path builds exactly (compose_direct.Unusual)."""
    try:
        return read(text, file, DirectComposer)
    except Unusual:
        return read(text, file, BoundedComposer)


def _yaml_documents(text: str, file: str, composer_class) -> tuple[list[Document], list[Problem]]:
    problems: list[Problem] = []
    documents: list[Document] = []
    loader = _Loader(text)
    composer = composer_class(loader, file)
    try:
        for root, lines, not_json, unsound, first_line in composer.documents():
            problems += unsound
            documents.append(Document(composer.data(root, unsound), lines, first_line, not_json, unsound))
    except Refused as exc:
        problems.append(exc.problem)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(file, mark.line + 1 if mark else None, "",
                                f"not valid YAML: {exc.problem or exc}", "well-formed YAML"))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, None, "", f"not valid YAML: {exc}", "well-formed YAML"))
    finally:
        loader.dispose()
    return documents, composer.problems + problems


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits)} digits, longer than the {MAX_INT_DIGITS} Python reads")
    return int(digits)


def _parse_json(text: str, file: str, composed: bool = False):
    """Strict JSON with duplicate keys reported; (data or None, problems, unsound: values no
    reader may use, values.py). Nesting deeper than MAX_DEPTH and over-long integers are
    refused; these problems are unlocated: the callers know where. With `composed`, the YAML
    composition of the same text has located duplicate keys and bounded the depth already."""
    problems: list[Problem] = []
    # Walking the data costs; only a surrogate escape, a number that is not finite or an
    # integer beyond 64 bits (values.py) needs it.
    suspect = [SURROGATE_ESCAPE.search(text) is not None]

    def integer(digits: str) -> int:
        value = _bounded_int(digits)
        suspect[0] = suspect[0] or value not in INT64
        return value

    def number(digits: str) -> float:       # also NaN, Infinity, -Infinity
        value = float(digits)
        suspect[0] = suspect[0] or not math.isfinite(value)
        return value

    def no_duplicates(pairs):
        if not composed:
            keys = [k for k, _ in pairs]
            for k in sorted({k for k in keys if keys.count(k) > 1}):
                problems.append(Problem(file, None, "", f"duplicate key {k!r}", "each key once per object"))
        return dict(pairs)

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_int=integer,
                          parse_float=number, parse_constant=number)
    except json.JSONDecodeError as exc:
        return None, [Problem(file, exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})",
                              "well-formed JSON")], []
    except ValueError as exc:
        return None, [Problem(file, None, "", str(exc), "a shorter number, or the value in quotes")], []
    except RecursionError:
        return None, [_too_deep_problem(file, "")], []
    # Cheap first: a text with few brackets cannot nest deeply.
    pointer = too_deep(data) if not composed and text.count("[") + text.count("{") > MAX_DEPTH else None
    if pointer is not None:
        return None, [_too_deep_problem(file, pointer)], []
    return data, problems, unsound_values(data, file) if suspect[0] else []


def _too_deep_problem(file: str, pointer: str) -> Problem:
    return Problem(file, None, pointer, f"nested deeper than {MAX_DEPTH} levels of mappings and lists",
                   f"at most {MAX_DEPTH} levels; records nest a few")


def too_deep(data) -> str | None:
    """The JSON Pointer of the first value nested deeper than MAX_DEPTH, or None (no recursion)."""
    stack = [(data, "", 1)]
    while stack:
        value, pointer, depth = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            if isinstance(item, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    return f"{pointer}/{escape_pointer_token(key)}"
                stack.append((item, f"{pointer}/{escape_pointer_token(key)}", depth + 1))
    return None


def unsound_values(data, file: str) -> list[Problem]:
    """Every lone surrogate (in a field name or in text) and every number that is not finite
    in `data`, unlocated, walked without recursion. A field whose name is refused is located
    at its mapping and not walked: its pointer would hold the surrogate."""
    found = []
    stack = [(data, "")]
    while stack:
        value, pointer = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                why = text_problem(key, "a field name")
                if why:
                    found.append(Problem(file, None, pointer or "/", *why))
                else:
                    stack.append((item, f"{pointer}/{escape_pointer_token(key)}"))
        elif isinstance(value, list):
            stack.extend((item, f"{pointer}/{i}") for i, item in enumerate(value))
        else:
            why = text_problem(value) if isinstance(value, str) else number_problem(value)
            if why:
                found.append(Problem(file, None, pointer, *why))
    return sorted(found)


def _json_line_map(text: str, file: str) -> tuple[dict[str, int] | None, list[Problem], bool]:
    """JSON is (nearly) YAML: composing it gives each value's line, locates duplicate keys and
    refuses what is too deep before the JSON parser recurses into it. Returns (lines, located
    problems, refused); lines is None where composition fails (a JSON-only escape such as
    \\/): then fewer lines are known. YAML refuses surrogate escapes, which JSON reads (and
    values.py refuses, located): they stand as U+FFFD here, as long, so the lines stay."""
    return _composed(_composed_lines, SURROGATE_ESCAPE.sub(lambda _: "\\uFFFD", text), file)


def _composed_lines(text: str, file: str, composer_class) -> tuple[dict[str, int] | None, list[Problem], bool]:
    loader = _Loader(text)
    composer = composer_class(loader, file)
    try:
        for _root, lines, _not_json, _unsound, _first_line in composer.documents():
            return lines, composer.problems, False
        return {}, composer.problems, False
    except Refused as exc:
        return None, [exc.problem], True
    except yaml.YAMLError:
        return None, [], False
    finally:
        loader.dispose()


def load_json_document(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """A JSON file: strict JSON parsing for correctness, YAML composition for line numbers."""
    lines, located, refused = _json_line_map(text, file)
    if refused:
        return [], located
    # Duplicate keys come located from the composition when it worked, else unlocated.
    data, problems, unsound = _parse_json(text, file, composed=lines is not None)
    if data is None:
        return [], problems
    doc = Document(data, lines or {}, 1)
    doc.unsound = [Problem(p.file, doc.line_of(p.pointer), p.pointer, p.message, p.expected) for p in unsound]
    return [doc], problems + located + doc.unsound


def load_json_lines(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """JSON Lines: one document per non-blank line; every bad line is reported, none skipped."""
    documents, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            document, found = json_line_document(raw, file, number)
            problems += found
            if document is not None:
                documents.append(document)
    return documents, problems


# Line breaks str.splitlines() sees inside a line of UTF-8 bytes split on b"\n" only (the ASCII
# ones but \r are no JSON a parser accepts: orjson refuses the line then).
_OTHER_BREAKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def quick_json_line(raw: bytes):
    """The data of one JSON Lines line, as bytes with its line break, or None: None when
    another line break inside would make the whole-file reader split the line (it splits with
    str.splitlines), and for whatever orjson refuses (a byte-order mark, bad UTF-8, NaN,
    Infinity, a lone surrogate escape, a number beyond a double...), which json_line_document
    judges. Where orjson reads a line, json.loads reads the same ids, types, strings, lists and
    mappings, but for three things no caller may take from here: duplicate keys (the last one
    wins in both, unreported), nesting deeper than MAX_DEPTH, and an integer beyond 64 bits
    (orjson reads it as a float): a caller that keeps the data reads the line exactly again."""
    cr = raw.find(b"\r")
    if cr != -1 and (cr != len(raw) - 2 or raw[-1:] != b"\n"):
        return None
    if not raw.isascii() and any(mark in raw for mark in _OTHER_BREAKS):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def json_line_document(raw: str, file: str, number: int) -> tuple[Document | None, list[Problem]]:
    """One non-blank line of a JSON Lines file (line `number`): its document, None when it
    cannot be parsed, and its problems, each on that line."""
    data, errs, unsound = _parse_json(raw, file)
    errs, unsound = ([Problem(err.file, number, err.pointer, err.message, err.expected) for err in found]
                     for found in (errs, unsound))
    if data is None:
        return None, errs + unsound
    return Document(data, {"": number}, number, unsound=unsound), errs + unsound   # every field on its line
