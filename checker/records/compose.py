"""Builds YAML nodes from the parser's events, within bounds, and maps every value to its line.

PyYAML's own composer trusts its input: nine levels of nine aliases (a few hundred bytes)
stand for 387 million values once anything walks them, an alias inside its own anchor makes
a cycle, and libyaml's composer recurses in C, so a few hundred thousand `[` crash the
process. This composer reads the same events without recursion and refuses, with the line,
a document that
- nests mappings and lists deeper than MAX_DEPTH levels,
- whose aliases would add more than ALIAS_BUDGET values if each were written out,
- holds an alias inside the value it names, or
- holds an integer longer than MAX_INT_DIGITS characters (Python refuses to read it).
Values no report can hold (values.py: lone surrogates, numbers that are not finite) and
scalars their tag cannot read (`0x_`, `!!float abc`, `!!bool maybe`) are collected, located,
in `unsound`: PyYAML's constructor would end them in a ValueError without a line.
Each node is walked once, aliases included, so building the line map costs the size of the
text, never the size of the expansion.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from checker.errors import Problem
from checker.records.values import number_problem, text_problem

MAX_DEPTH = 64              # the deepest record or rule file of the project nests 8 levels
ALIAS_BUDGET = 10_000       # values that aliases may add to one document when expanded
MAX_INT_DIGITS = 4300       # Python's own limit for converting a decimal string to int
INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_KEY_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "merge", "value")}
_DATA_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_CONSTRUCTED_TAGS = {"tag:yaml.org,2002:" + t for t in ("int", "float", "bool", "timestamp")}
_ENDS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
UNBUILT, FAILED = object(), object()      # _checked: the check did not build the value; its tag cannot read it
# What PyYAML's constructors raise for a scalar their tag cannot read.
CONSTRUCTOR_ERRORS = (ValueError, KeyError, AttributeError, TypeError, OverflowError)


class Refused(Exception):
    """The document crosses one of the bounds; carries the located problem."""

    def __init__(self, problem: Problem):
        super().__init__(problem.render())
        self.problem = problem


def escape_pointer_token(token) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


@dataclass
class _Open:
    """A mapping or sequence whose items are still being read."""
    node: yaml.Node
    pointer: str | None        # None inside a mapping key: keys have no JSON Pointer
    anchor: str | None
    size: int = 1              # values it stands for once its aliases are written out
    key: yaml.Node | None = None                    # mappings: the key whose value comes next
    seen: dict = field(default_factory=dict)        # mappings: key -> line of its first use


class BoundedComposer:
    """Documents of one YAML stream as (root node, {JSON Pointer: line}, problems with data JSON
    cannot hold, problems with values no reader may use); duplicate mapping keys are collected
    in `problems`, bounds crossed raise Refused. Record files must hold JSON's data (text keys;
    text, numbers, true/false, null, lists, mappings), or the schemas could not judge them;
    rule and parameter files need not."""

    def __init__(self, loader, file: str):
        self.loader = loader
        self.file = file
        self.problems: list[Problem] = []

    def documents(self):
        """Each document as (its root, {JSON Pointer: line}, problems with data JSON cannot
        hold, problems with values no reader may use, the line it starts on); data(root)
        gives its data."""
        loader = self.loader
        if loader.check_event(yaml.StreamStartEvent):
            loader.get_event()
        while not loader.check_event(yaml.StreamEndEvent):
            loader.get_event()                  # document start
            root, lines, not_json, unsound = self._document()
            yield root, lines, not_json, unsound, self.first_line
            loader.get_event()                  # document end

    def data(self, node, unsound: list[Problem]):
        """The data of a document's root node; None where a value refused in `unsound` cannot
        even be built (a scalar its tag cannot read): the problems say why, nothing of the
        document is used."""
        try:
            return self.loader.construct_document(node)
        except CONSTRUCTOR_ERRORS:
            if not unsound:
                raise
            return None

    def _document(self):
        self.lines: dict[str, int] = {}
        self.not_json: list[Problem] = []
        self.unsound: list[Problem] = []
        self.anchors: dict[str, tuple[yaml.Node, int] | None] = {}   # None while still open
        self.expanded = 0
        stack: list[_Open] = []
        while True:
            event = self.loader.get_event()
            if isinstance(event, _ENDS):
                done = stack.pop()
                done.node.end_mark = event.end_mark
                node, size = done.node, done.size
                if done.anchor is not None:
                    self.anchors[done.anchor] = (node, size)
            else:
                pointer = _child_pointer(stack)
                if not stack:
                    self.first_line = event.start_mark.line + 1
                if pointer is not None:
                    self.lines[pointer] = event.start_mark.line + 1
                if isinstance(event, yaml.AliasEvent):
                    node, size = self._alias(event, pointer)
                elif isinstance(event, yaml.ScalarEvent):
                    node, size = self._scalar(event, pointer, _nearest_pointer(stack, pointer)), 1
                else:
                    stack.append(self._open(event, pointer, len(stack) + 1))
                    continue
            if not stack:
                return node, self.lines, self.not_json, self.unsound
            self._attach(stack[-1], node, size)

    def _anchor(self, event) -> None:
        if event.anchor is None:
            return
        if event.anchor in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found duplicate anchor {event.anchor!r}",
                                              event.start_mark)
        self.anchors[event.anchor] = None

    def _open(self, event, pointer: str | None, depth: int) -> _Open:
        kind, tag = self._opened(event, pointer, depth)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        return _Open(node, pointer, event.anchor)

    def _opened(self, event, pointer: str | None, depth: int) -> tuple[type, str]:
        """(node class, tag) of a mapping or list about to be read, checked."""
        if depth > MAX_DEPTH:
            self._refuse(event, pointer, f"nested deeper than {MAX_DEPTH} levels of mappings and lists",
                         f"at most {MAX_DEPTH} levels; records nest a few")
        self._anchor(event)
        kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        self._check_data(tag, event.start_mark.line, pointer)
        return kind, tag

    def _scalar(self, event, pointer: str | None, where: str) -> yaml.ScalarNode:
        self._anchor(event)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        node = node_of(event, tag)
        self._checked(event, tag, pointer, where, node)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, 1)
        return node

    def _checked(self, event, tag: str, pointer: str | None, where: str, node: yaml.ScalarNode | None = None):
        """A scalar's value checked (compose.py's bounds, values.py); its value when the check
        built it (a number it had to read), else UNBUILT, or FAILED when its tag cannot read
        it. `node`: the scalar's node when there is one."""
        value = event.value
        if tag == INT_TAG and len(value) > MAX_INT_DIGITS:
            self._refuse(event, pointer, f"an integer of {len(value)} digits, longer than the "
                                         f"{MAX_INT_DIGITS} Python reads",
                         "a shorter number, or the value in quotes if it is an identifier")
        line = event.start_mark.line
        self._check_data(tag, line, pointer)
        # Implicit booleans and plain decimal integers of up to 18 digits (within 64 bits,
        # values.INT64) always read; anything else is checked.
        construct = (event.tag not in (None, "!") or tag == _FLOAT_TAG
                     or tag == INT_TAG and not (value.isdigit() and len(value) <= 18))
        why = text_problem(value, "text" if pointer is not None else "a field name")
        built = UNBUILT
        if why is None and construct and tag in _CONSTRUCTED_TAGS:
            try:
                built = self.loader.yaml_constructors[tag](self.loader, node or node_of(event, tag))
                why = number_problem(built)
            except CONSTRUCTOR_ERRORS:
                kind, built = tag.rsplit(":", 1)[-1], FAILED
                why = (f"{value!r} is not a valid {kind} (the value is tagged or written as one)",
                       f"a valid {kind}, or the value in quotes if it is text")
        if why:
            self.unsound.append(Problem(self.file, line + 1, where, *why))
        return built

    def _alias(self, event, pointer: str | None) -> tuple[yaml.Node, int]:
        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                              event.start_mark)
        target = self.anchors[event.anchor]
        if target is None:
            self._refuse(event, pointer, f"alias *{event.anchor} inside the value it names (a structure "
                                         "without end)", "aliases only to values already complete")
        node, size = target
        self.expanded += size
        if self.expanded > ALIAS_BUDGET:
            self._refuse(event, pointer, f"aliases expand to more than {ALIAS_BUDGET} values (an alias bomb?)",
                         "the values written out, or fewer aliases")
        return node, size

    def _attach(self, parent: _Open, node: yaml.Node, size: int) -> None:
        parent.size += size
        if isinstance(parent.node, yaml.SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
            if isinstance(node, yaml.ScalarNode):   # the constructor refuses a mapping or list as a key, located
                self._check_duplicate(parent, node.tag, node.value, node.start_mark.line)
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None

    def _check_data(self, tag: str, line: int, pointer: str | None) -> None:
        if tag not in _DATA_TAGS and pointer is not None:
            self.not_json.append(Problem(self.file, line + 1, pointer,
                                         f"a value of YAML type {tag.rsplit(':', 1)[-1]}, which records do not hold",
                                         "text, a number, true/false, null, a list or a mapping"))

    def _check_duplicate(self, parent, tag: str, key: str, line: int) -> None:
        """A mapping's key (its text `key`, on 0-based `line`): not text, or used before in `parent`."""
        line += 1
        if tag not in _KEY_TAGS:
            self.not_json.append(Problem(self.file, line, parent.pointer or "/",
                                         f"the key {key!r} is read as {tag.rsplit(':', 1)[-1]}, not text",
                                         "field names as text: put the key in quotes"))
        if key in parent.seen:
            self.problems.append(Problem(self.file, line, parent.pointer or "/",
                                         f"duplicate key {key!r} (first at line {parent.seen[key]})",
                                         "each key once per mapping"))
        parent.seen.setdefault(key, line)

    def _refuse(self, event, pointer: str | None, message: str, expected: str):
        raise Refused(Problem(self.file, event.start_mark.line + 1, pointer or "", message, expected))


def node_of(event, tag: str) -> yaml.ScalarNode:
    """The node of a scalar's event, under its resolved `tag`."""
    return yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)


def _nearest_pointer(stack: list[_Open], pointer: str | None) -> str:
    """`pointer`, or for a key (which has none) the pointer of the nearest mapping around it."""
    if pointer is not None:
        return pointer
    return next((o.pointer or "/" for o in reversed(stack) if o.pointer is not None), "/")


def _child_pointer(stack: list[_Open]) -> str | None:
    """The JSON Pointer of the value about to be read; None for a key or what is inside one."""
    if not stack:
        return ""
    parent = stack[-1]
    if parent.pointer is None:
        return None
    if isinstance(parent.node, yaml.SequenceNode):
        return f"{parent.pointer}/{len(parent.node.value)}"
    if parent.key is None or not isinstance(parent.key, yaml.ScalarNode):
        return None
    return f"{parent.pointer}/{escape_pointer_token(parent.key.value)}"
