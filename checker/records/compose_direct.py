"""compose.py's bounded walk of libyaml's events, building each document's data directly, as
PyYAML's safe constructor builds it from the nodes, without making the nodes.

The node path (compose.BoundedComposer, then the constructor) costs about six times libyaml's
own parse in Python: a node object per value, then the constructor's walk over them. This
composer walks the same events with the same checks, in the same order (so the same lines,
problems and refusals come out), and builds str, int, float, bool and null values, lists and
mappings as it goes. What it does not build the same way it leaves, raising Unusual, to the
node path, which the caller then runs on the whole text: merge keys (`<<`), tags beyond
JSON's data, a mapping, list or alias as a key, and a value its tag cannot read.
tests/test_compose_direct.py holds the two paths to the same result.
"""
from __future__ import annotations

import yaml

from checker.records.compose import (CONSTRUCTOR_ERRORS, FAILED, INT_TAG, UNBUILT, BoundedComposer, escape_pointer_token,
                                     node_of)

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
# The scalar tags built here; what they build needs no node but for numbers the checks read.
_BUILT_TAGS = frozenset({_STR_TAG, _NULL_TAG, INT_TAG, "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"})
_ITEM, _KEY = object(), object()      # _Building.key of a list; of a mapping whose next key comes
_UNPLAIN = object()                   # _plain_value: not the usual scalar


class Unusual(Exception):
    """The text holds what only the node path builds exactly (see the module's docstring)."""


class _Building:
    """A mapping or list whose items are still being read (compose._Open's counterpart)."""
    __slots__ = ("value", "pointer", "anchor", "size", "key", "child", "seen")

    def __init__(self, value, pointer: str, anchor: str | None):
        self.value, self.pointer, self.anchor, self.size = value, pointer, anchor, 1
        self.key = _ITEM if isinstance(value, list) else _KEY   # mappings: the key whose value comes next
        self.child = ""          # mappings: the pointer of the value that comes next
        self.seen: dict = {}     # mappings: key -> line of its first use


class DirectComposer(BoundedComposer):
    """BoundedComposer's documents with their data as the root (data(root) is the root)."""

    def __init__(self, loader, file: str):
        super().__init__(loader, file)
        # The loader's implicit resolvers by a plain scalar's first character, as
        # yaml.resolver.BaseResolver.resolve tries them (those for any character last).
        resolvers = loader.yaml_implicit_resolvers
        self._any_first = tuple(resolvers.get(None, []))
        self._by_first = {first: tuple(found) + self._any_first for first, found in resolvers.items() if first is not None}

    def data(self, node, unsound):
        return node

    def _document(self):
        self.lines = lines = {}
        self.not_json, self.unsound, self.anchors, self.expanded = [], [], {}, 0
        stack: list[_Building] = []
        get_event = self.loader.get_event
        while True:
            event = get_event()
            kind = type(event)
            if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()
                value, size = done.value, done.size
                if done.anchor is not None:
                    self.anchors[done.anchor] = (value, size)
            else:
                if not stack:
                    pointer = ""
                    self.first_line = event.start_mark.line + 1
                elif stack[-1].key is _KEY:
                    self._key(event, kind, stack[-1])
                    continue
                else:
                    top = stack[-1]
                    pointer = f"{top.pointer}/{len(top.value)}" if top.key is _ITEM else top.child
                lines[pointer] = event.start_mark.line + 1
                if kind is yaml.ScalarEvent:
                    value, size = self._plain_value(event), 1
                    if value is _UNPLAIN:
                        value = self._value(event, pointer, pointer)
                elif kind is yaml.AliasEvent:
                    value, size = self._alias(event, pointer)
                else:
                    stack.append(self._building(event, pointer, len(stack) + 1))
                    continue
            if not stack:
                return value, lines, self.not_json, self.unsound
            top = stack[-1]
            top.size += size
            if top.key is _ITEM:
                top.value.append(value)
            else:
                top.value[top.key] = value
                top.key = _KEY

    def _building(self, event, pointer: str, depth: int) -> _Building:
        kind, tag = self._opened(event, pointer, depth)
        if tag != (_SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG):
            raise Unusual(f"a mapping or list tagged {tag}")
        return _Building([] if kind is yaml.SequenceNode else {}, pointer, event.anchor)

    def _key(self, event, kind, mapping: _Building):
        """A mapping's key, built as the constructor builds it; its value's pointer comes next."""
        if kind is not yaml.ScalarEvent:
            raise Unusual("a mapping, a list or an alias as a mapping's key")
        text = event.value
        if self._plain_value(event) is text:
            tag, key = _STR_TAG, text
        else:
            tag = self._tag(event)
            key = self._built(event, tag, None, mapping.pointer or "/")
        self._check_duplicate(mapping, tag, text, event.start_mark.line)
        token = escape_pointer_token(text) if "/" in text or "~" in text else text
        mapping.key, mapping.child = key, f"{mapping.pointer}/{token}"

    def _plain_value(self, event):
        """The value of the usual scalar, ASCII text or a short decimal without a tag or an
        anchor, which no check refuses (values.text_problem finds nothing in ASCII); else
        _UNPLAIN (built by _value, with the checks)."""
        text = event.value
        if event.tag is not None or event.anchor is not None or not text.isascii():
            return _UNPLAIN
        if not event.implicit[0]:
            return text         # quoted: text
        tag = self._plain_tag(text)
        if tag == _STR_TAG:
            return text
        if tag == INT_TAG and len(text) <= 18 and _decimal(text):
            return int(text)
        return _UNPLAIN

    def _value(self, event, pointer: str, where: str):
        return self._built(event, self._tag(event), pointer, where)

    def _tag(self, event) -> str:
        """A scalar's tag, as the constructor resolves it (its anchor checked first, as compose.py does)."""
        self._anchor(event)
        tag, text = event.tag, event.value
        if tag is None:
            tag = self._plain_tag(text) if event.implicit[0] else _STR_TAG
        elif tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, text, event.implicit)
        if tag not in _BUILT_TAGS:
            raise Unusual(f"a value tagged {tag}")
        return tag

    def _built(self, event, tag: str, pointer: str | None, where: str):
        """A scalar's value (`pointer` None: a key's), checked as compose.py checks it."""
        value = self._checked(event, tag, pointer, where)
        if value is FAILED:
            raise Unusual(f"{event.value!r} is not a valid {tag}")
        if value is UNBUILT:
            value = _constructed(self.loader, event, tag)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        return value

    def _plain_tag(self, text: str) -> str:
        for tag, pattern in self._by_first.get(text[0] if text else "", self._any_first):
            if pattern.match(text):
                return tag
        return _STR_TAG


def _constructed(loader, event, tag: str):
    """A scalar's value as the safe constructor builds it (`tag` one of _BUILT_TAGS)."""
    text = event.value
    if tag == _STR_TAG:
        return text
    if tag == _NULL_TAG:
        return None
    if tag == INT_TAG and _decimal(text):
        return int(text)
    try:
        return loader.yaml_constructors[tag](loader, node_of(event, tag))
    except CONSTRUCTOR_ERRORS as exc:
        raise Unusual(f"{text!r} is not a valid {tag}") from exc


def _decimal(text: str) -> bool:
    """Whether construct_yaml_int reads `text` as int(text) does: ASCII digits, no leading 0
    (which it reads as octal) but for 0 itself."""
    return text.isascii() and text.isdigit() and (text[0] != "0" or text == "0")
