"""Last night's first pass over the lines of a JSON Lines file that did not change since.

A cached night (engine/cache) reads an export whose lines are mostly byte for byte last
night's. The first pass (stream.py) cuts each JSON Lines file into chunks of lines where the
content says (a line whose digest's first byte is below CUT ends a chunk, and MOST_LINES do:
a line changed, added or removed changes only its own chunk and a neighbour at most), and the
memo keeps, by a digest of its lines' digests, what the pass took from each chunk whose every
line held one record: the chunk's recipe (records/line_plan.py: its ids, types, clients, the
references it cannot settle alone and the evidence its records give), or for a chunk without
one (CB-wide records, an owner later in the chunk...) each record's fields the index reads
(`fields(type)`: its id, type, owner and the heads of its reference fields) with the evidence.

A chunk read again with the same digest is not parsed. Its recipe is added to the index as the
night that made it added it, or line by line where the index as it stands tonight needs that
(stream._StubIndexBuilder.add_plan); the lines of a chunk without one each go through the pass
as a record, in file order, with only those fields (the index builder reads no other, and a
record the pass keeps with its data is read again exactly from its line, as a quickly parsed
one always was). Either way duplicate ids, references and owners are judged over tonight's
input exactly as without the memo. Its evidence is added whole, and only when every one of its
records was indexed tonight (the evidence counts indexed records; a chunk with a duplicate is
counted record by record, each line parsed again).

Nothing read back is trusted: an entry whose bytes do not match the digest stored with them,
or that does not have exactly the shape written for as many lines as the chunk has (a recipe's
ids distinct, its types known, its clients and references within the chunk), is a miss and
the chunk is parsed. What the memo is keyed on besides the lines (`salt`: cbcheck's code,
whose schemas say which fields the index reads) comes from the caller.
"""
from __future__ import annotations

import hashlib
import operator
from itertools import chain

import orjson

from checker.records.evidence import EvidenceCount
from checker.records.line_plan import PlanSpec, Recipe, runs_of

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

    def read(self, key: bytes, lines: int, spec: PlanSpec):
        """Last night's entry for the chunk of `lines` lines with `key`, or None (none, or not
        one to trust): its Recipe (records/line_plan.py; `spec`: the types it may name), or
        (each line's record's indexed fields, the chunk's evidence)."""
        entry = self.lookup(key)
        return None if entry is None else _decoded(entry, lines, spec)

    def noted(self, key: bytes, reused: bool, entry: bytes | None):
        """A chunk read with `key` (in a process of the pass's pool, or here): last night's
        entry `reused`, or else tonight's `entry` made (None: the chunk has none)."""
        self.seen.add(key)
        if reused:
            self.reused += 1
        else:
            self.parsed += 1
        if entry is not None:
            self.fresh[key] = entry


def recipe_entry(recipe: Recipe) -> bytes:
    """The entry of a chunk with a recipe (records/line_plan.py)."""
    evidence = recipe.evidence
    return _entry({"ids": recipe.ids, "kinds": recipe.kinds, "clients": recipe.clients, "refs": recipe.refs,
                   **_evidence_fields(evidence)})


def fields_entry(records: list[dict], fields) -> bytes:
    """The entry of a chunk without a recipe whose lines held `records`, one each; `fields(type)`:
    the fields the index reads of a record of that type."""
    evidence = EvidenceCount()
    for data in records:
        evidence.add(data)
    indexed = [{k: data[k] for k in fields(data.get("type")) if k in data} for data in records]
    return _entry({"records": indexed, **_evidence_fields(evidence)})


def _evidence_fields(evidence: EvidenceCount) -> dict:
    return {"counts": evidence.counts, "items": evidence.items,
            "marked": {kind: sorted(marks) for kind, marks in evidence.marked.items()}}


def _entry(body: dict) -> bytes:
    text = orjson.dumps(body)
    return _check(text) + text


def _check(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def _decoded(entry, lines: int, spec: PlanSpec) -> Recipe | tuple[list[dict], EvidenceCount] | None:
    if not isinstance(entry, bytes):
        return None
    body = memoryview(entry)[16:]       # not a copy of 3 KB an entry
    if entry[:16] != _check(body):
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not (data.keys() == _FIELDS_KEYS or data.keys() == _RECIPE_KEYS):
        return None
    counts, items, marked = data["counts"], data["items"], data["marked"]
    if not _evidence_shape(counts, items, marked):
        return None
    evidence = EvidenceCount()
    evidence.counts, evidence.items = counts, items
    evidence.marked = {kind: frozenset(marks) for kind, marks in marked.items()}
    if "records" in data:
        records = data["records"]
        good = isinstance(records, list) and len(records) == lines and set(map(type, records)) <= {dict}
        return (records, evidence) if good else None
    recipe = Recipe(data["ids"], data["kinds"], data["clients"], data["refs"], evidence, [])
    return recipe._replace(runs=runs_of(recipe.clients)) if _recipe_shape(recipe, lines, spec) else None


_FIELDS_KEYS = {"records", "counts", "items", "marked"}
_RECIPE_KEYS = {"ids", "kinds", "clients", "refs", "counts", "items", "marked"}


def _recipe_shape(recipe: Recipe, lines: int, spec: PlanSpec) -> bool:
    """Whether a recipe read back is one recipe_of makes for a chunk of `lines` lines: a
    distinct id and a known type a line, each client a client's record of the chunk before
    it or an outside owner's id, each reference a record's, of one of its type's fields, to
    an id (an item's pointer or none)."""
    ids, kinds, clients, refs = recipe.ids, recipe.kinds, recipe.clients, recipe.refs
    if not (type(ids) is list and type(kinds) is list and type(clients) is list
            and len(ids) == len(kinds) == len(clients) == lines and set(map(type, ids)) <= {str}
            and len(set(ids)) == lines and set(map(type, kinds)) <= {str} and set(kinds) <= spec.owner_fields.keys()):
        return False
    # Each step over every record or reference in C, or a comprehension at most (a night
    # reads twelve thousand entries at 10,000 clients).
    ints = [c for c in clients if type(c) is int]
    if not (set(map(type, clients)) <= {str, int} and min(ints, default=0) >= 0 and max(ints, default=0) < lines
            and set(map(kinds.__getitem__, ints)) <= {"client"}
            and not [k for k, c in enumerate(clients) if type(c) is int and c > k]):
        return False
    if not (type(refs) is list and len(refs) == 4 and set(map(type, refs)) <= {list} and len(set(map(len, refs))) <= 1):
        return False
    records, fields, items, values = refs
    if not (set(map(type, records)) <= {int} and set(map(type, fields)) <= {int}
            and set(map(type, items)) <= {str, type(None)} and set(map(type, values)) <= {str}):
        return False
    limits = [len(spec.refs[kind]) for kind in kinds]       # reference fields a record's type has
    return (min(records, default=0) >= 0 and max(records, default=0) < lines and min(fields, default=0) >= 0
            and all(map(operator.lt, fields, map(limits.__getitem__, records))))


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
