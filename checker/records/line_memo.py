"""Last night's first pass over the lines of a JSON Lines file that did not change since.

A cached night (engine/cache) reads an export whose lines are mostly byte for byte last
night's. The first pass (stream.py) cuts each JSON Lines file into chunks of lines where the
content says (a line whose digest's first byte is below CUT ends a chunk, and MOST_LINES do:
a line changed, added or removed changes only its own chunk and a neighbour at most), and the
memo keeps, by a digest of its lines' digests, what the pass took from each chunk whose every
line held one record: each record's fields the index reads (`fields(type)`: its id, type, owner
and the heads of its reference fields) and the evidence the chunk's records give.

A chunk read again with the same digest is not parsed. Each of its lines still goes through
the pass as a record, in file order, with only those fields (the index builder reads no
other, and a record the pass keeps with its data is read again exactly from its line, as a
quickly parsed one always was), so duplicate ids, references and owners are judged over
tonight's input exactly as without the memo. Its evidence is added whole, and only when every
one of its records was indexed tonight (the evidence counts indexed records; a chunk with a
duplicate is counted record by record, each line parsed again).

Nothing read back is trusted: an entry whose bytes do not match the digest stored with them,
or that does not have exactly the shape written for as many lines as the chunk has, is a miss
and the chunk is parsed. What the memo is keyed on besides the lines (`salt`: cbcheck's code,
whose schemas say which fields the index reads) comes from the caller.
"""
from __future__ import annotations

import hashlib
from itertools import chain

import orjson

from checker.records.evidence import EvidenceCount

# A line ends its chunk when its digest's first byte is below CUT (8 of 256 digests: 32 lines a
# chunk on average), or when it is the chunk's MOST_LINES-th (stream._chunks cuts them).
CUT = 8
MOST_LINES = 256


class LineMemo:
    """Chunks' takings by key: `lookup(key)` gives last night's entry (bytes) or None; the
    entries made tonight are kept in `fresh` and the keys of tonight's chunks in `seen`, for the
    cache to store and to prune the others."""

    def __init__(self, lookup, salt: bytes):
        self.lookup, self.salt = lookup, salt
        self.fresh: dict[bytes, bytes] = {}
        self.seen: set[bytes] = set()
        self.reused = self.parsed = 0      # chunks

    def key(self, digests: list[bytes]) -> bytes:
        """A chunk's key: of its lines' digests, in order, and the salt."""
        h = hashlib.blake2b(self.salt, digest_size=16)
        h.update(b"".join(digests))
        return h.digest()

    def taken(self, key: bytes, lines: int) -> tuple[list[dict], EvidenceCount] | None:
        """(each line's record's indexed fields, the chunk's evidence) of last night's entry
        for the chunk of `lines` lines with `key`, or None (none, or not one to trust)."""
        self.seen.add(key)
        entry = self.lookup(key)
        found = None if entry is None else _decoded(entry, lines)
        if found is None:
            self.parsed += 1
        else:
            self.reused += 1
        return found

    def keep(self, key: bytes, records: list[dict], fields):
        """Tonight's entry for the chunk with `key` whose lines held `records`, one each;
        `fields(type)`: the fields the index reads of a record of that type."""
        evidence = EvidenceCount()
        for data in records:
            evidence.add(data)
        indexed = [{k: data[k] for k in fields(data.get("type")) if k in data} for data in records]
        body = orjson.dumps({"records": indexed, "counts": evidence.counts, "items": evidence.items,
                             "marked": {kind: sorted(marks) for kind, marks in evidence.marked.items()}})
        self.fresh[key] = _check(body) + body


def _check(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def _decoded(entry, lines: int) -> tuple[list[dict], EvidenceCount] | None:
    if not isinstance(entry, bytes):
        return None
    body = memoryview(entry)[16:]       # not a copy of 3 KB an entry
    if entry[:16] != _check(body):
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(data, dict) and data.keys() == _ENTRY_KEYS
            and isinstance(data["records"], list) and len(data["records"]) == lines
            and set(map(type, data["records"])) <= {dict}):
        return None
    counts, items, marked = data["counts"], data["items"], data["marked"]
    if not _evidence_shape(counts, items, marked):
        return None
    evidence = EvidenceCount()
    evidence.counts, evidence.items = counts, items
    evidence.marked = {kind: frozenset(marks) for kind, marks in marked.items()}
    return data["records"], evidence


_ENTRY_KEYS = {"records", "counts", "items", "marked"}


def _evidence_shape(counts, items, marked) -> bool:
    """Whether an entry's evidence is what keep() writes: records per type, items per type and
    array field, counts all, and per type of those counted a list of field names (JSON's keys
    are names already; every count is tested in C at once: a chunk's entry holds a few dozen)."""
    if not (type(counts) is dict and type(items) is dict and type(marked) is dict and marked.keys() == counts.keys()
            and set(map(type, items.values())) <= {dict} and set(map(type, marked.values())) <= {list}):
        return False
    numbers = [*counts.values(), *chain.from_iterable(map(dict.values, items.values()))]
    return (set(map(type, numbers)) <= {int} and min(numbers, default=0) >= 0
            and set(map(type, chain.from_iterable(marked.values()))) <= {str})
