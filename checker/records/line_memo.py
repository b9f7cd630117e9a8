"""Last night's first pass over the lines of a JSON Lines file that did not change since.

A cached night (engine/cache) reads an export whose lines are mostly byte for byte last
night's. The first pass (stream.py) cuts each JSON Lines file into chunks of lines where the
content says (a line whose CRC-32's low byte is below CUT ends a chunk, and MOST_LINES do: a
line changed, added or removed changes only its own chunk and a neighbour at most), and the
memo keeps, by a digest of the chunk's bytes, what the pass took from each chunk whose every
line held one record. Two kinds of entry:

- a plan (records/line_plan.Recipe, with each line's digest): for a chunk all of whose records
  are of the usual case (a client's records, sound among themselves). A chunk read again with
  the same key is not parsed and is added to the index in bulk (stream._StubIndexBuilder.
  add_plan), its rows made at once from tonight's offsets and the stored digests: no Python
  work a record. add_plan judges, over the index as it stands tonight, all the chunk cannot
  settle alone (whether its ids were read before, its owners and references outside it), and
  where any of that is not the usual case the chunk's lines are parsed and added one by one;
- fields: for any other chunk, each record's fields the index reads (`fields(type)`: its id,
  type, owner and the heads of its reference fields) and the evidence its records give. Each
  of its lines still goes through the pass as a record, in file order, with only those fields
  (a record the pass keeps with its data is read again exactly from its line); its evidence is
  added whole only when every one of its records was indexed tonight.

Either way duplicate ids, references and owners are judged over tonight's input exactly as
without the memo (tests/test_line_memo.py compares the whole index with a pass's that parses
every line).

Nothing read back is trusted: an entry whose bytes do not match the digest stored with them,
or that does not have exactly the shape written for as many lines as the chunk has, is a miss
and the chunk is parsed. What the memo is keyed on besides the lines (`salt`: cbcheck's code,
whose schemas say which fields the index reads) comes from the caller.
"""
from __future__ import annotations

import hashlib
import operator
import struct
from itertools import chain, repeat

import orjson

from checker.records.evidence import EvidenceCount
from checker.records.line_plan import PlanSpec, Recipe, recipe_of, runs_of

# A line ends its chunk when its CRC-32's low byte is below CUT (2 of 256: 128 lines a chunk on
# average), or when it is the chunk's MOST_LINES-th (stream._chunks cuts them). A chunk changed
# costs its lines' parsing (at 10,000 clients with 1 % changed, 100 chunks: 0.2 CPU-s), a chunk
# taken a few dozen us whatever its size (64 to 170 lines on average measured alike). CRC-32,
# not a digest: it only says where chunks end (a chunk's key is a digest of its bytes), and
# zlib's costs a tenth of blake2b's a line.
CUT = 2
MOST_LINES = 256
DIGEST = 12             # bytes of a line's digest in a plan entry (stream._digest's)

_PLAN, _FIELDS = b"P", b"F"
_FIELDS_OF_A_TYPE = range(1 << 16)      # what a reference's field number can be before its type's are asked
_LENGTH = struct.Struct("<I")


class TakenPlan(tuple):
    """A plan entry as taken: (recipe, each line's digest end to end)."""
    __slots__ = ()


class LineMemo:
    """Chunks' takings by key: `lookup(key)` gives last night's entry (bytes) or None; the
    entries made tonight are kept in `fresh` and the keys of tonight's chunks in `seen`, for the
    cache to store and to prune the others."""

    def __init__(self, lookup, salt: bytes):
        self.lookup, self.salt = lookup, salt
        self.fresh: dict[bytes, bytes] = {}
        self.seen: set[bytes] = set()
        self.reused = self.parsed = 0      # chunks

    def night(self) -> LineMemo:
        """A memo of the same entries whose takings start from none: a process of the pass's
        pool takes a range's chunks with one, and the main process adds its tally."""
        return LineMemo(self.lookup, self.salt)

    def tally(self) -> tuple:
        """What this memo took and made: (fresh, seen, reused, parsed), for add_tally."""
        return self.fresh, self.seen, self.reused, self.parsed

    def add_tally(self, tally: tuple):
        """Adds another memo's tally (a range's, taken by the pass's pool) to this one's."""
        fresh, seen, reused, parsed = tally
        self.fresh.update(fresh)
        self.seen.update(seen)
        self.reused += reused
        self.parsed += parsed

    def key(self, lines: list[bytes]) -> bytes:
        """A chunk's key: of its lines' bytes, in order, and the salt (SHA-256, half the CPU of
        blake2b where the processor has its instructions, as x86-64's have since 2017-2019)."""
        h = hashlib.sha256(self.salt)
        h.update(b"".join(lines))
        return h.digest()[:16]

    def taken(self, key: bytes, lines: int, spec: PlanSpec):
        """Last night's entry for the chunk of `lines` lines with `key`: a TakenPlan (recipe,
        the lines' digests), or (each line's record's indexed fields, the chunk's evidence), or
        None (none, or not one to trust). `spec`: what a recipe's types and fields must be."""
        self.seen.add(key)
        entry = self.lookup(key)
        found = None if entry is None else _decoded(entry, lines, spec)
        if found is None:
            self.parsed += 1
        else:
            self.reused += 1
        return found

    def keep(self, key: bytes, records: list[dict], fields):
        """Tonight's fields entry for the chunk with `key` whose lines held `records`, one each;
        `fields(type)`: the fields the index reads of a record of that type."""
        evidence = EvidenceCount()
        for data in records:
            evidence.add(data)
        indexed = [{k: data[k] for k in fields(data.get("type")) if k in data} for data in records]
        self._keep(key, _FIELDS + orjson.dumps({"records": indexed, **_evidence(evidence)}))

    def keep_parsed(self, key: bytes, quick: list[dict], lines: int, spec: PlanSpec, fields,
                    digests: list[bytes]) -> Recipe | None:
        """Tonight's entry for a chunk of `lines` lines with `key` that was parsed: `quick`, the
        records read quickly, one a line when each held one (else no entry); its plan when its
        records are of the usual case (line_plan.recipe_of, returned), else their fields."""
        if len(quick) != lines:
            return None
        recipe = recipe_of(quick, spec)
        if recipe is not None:
            self.keep_plan(key, recipe, digests)
        else:
            self.keep(key, quick, fields)
        return recipe

    def keep_plan(self, key: bytes, recipe: Recipe, digests: list[bytes]):
        """Tonight's plan entry for the chunk with `key`: its recipe (line_plan.recipe_of) and
        its lines' digests. Its types, pointers and targets are numbers into lists of each
        once (`types`, `names`): read back, a number is no new object, a string is."""
        records, fields, items, values = recipe.refs
        types = list(dict.fromkeys(recipe.kinds))
        names = list(dict.fromkeys(chain((item for item in items if item is not None), values)))
        type_at, name_at = {kind: k for k, kind in enumerate(types)}, {name: k for k, name in enumerate(names)}
        text = orjson.dumps({"ids": recipe.ids, "types": types, "kinds": list(map(type_at.__getitem__, recipe.kinds)),
                             "clients": recipe.clients, "names": names,
                             "refs": [records, fields, [-1 if item is None else name_at[item] for item in items],
                                      list(map(name_at.__getitem__, values))],
                             **_evidence(recipe.evidence)})
        self._keep(key, _PLAN + _LENGTH.pack(len(text)) + text + b"".join(digests))

    def _keep(self, key: bytes, body: bytes):
        self.fresh[key] = _check(body) + body


def _evidence(evidence: EvidenceCount) -> dict:
    return {"counts": evidence.counts, "items": evidence.items,
            "marked": {kind: sorted(marks) for kind, marks in evidence.marked.items()}}


def _check(body) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def _decoded(entry, lines: int, spec: PlanSpec):
    if not isinstance(entry, bytes):
        return None
    body = memoryview(entry)[16:]       # not a copy of 3 KB an entry
    if entry[:16] != _check(body):
        return None
    kind, body = bytes(body[:1]), body[1:]
    if kind == _PLAN and len(body) >= _LENGTH.size:
        (length,), digests = _LENGTH.unpack_from(body), body[_LENGTH.size:]
        text, digests = digests[:length], bytes(digests[length:])
        data = _loaded(text, _PLAN_KEYS)
        if data is None or len(digests) != DIGEST * lines:
            return None
        recipe = _recipe(data, lines, spec)
        return None if recipe is None else TakenPlan((recipe, digests))
    data = _loaded(body, _FIELDS_KEYS) if kind == _FIELDS else None
    if data is None or not (isinstance(data["records"], list) and len(data["records"]) == lines
                            and set(map(type, data["records"])) <= {dict}):
        return None
    evidence = _evidence_of(data)
    return None if evidence is None else (data["records"], evidence)


_EVIDENCE_KEYS = {"counts", "items", "marked"}
_FIELDS_KEYS = {"records", *_EVIDENCE_KEYS}
_PLAN_KEYS = {"ids", "types", "kinds", "clients", "names", "refs", *_EVIDENCE_KEYS}


def _loaded(text, keys: set[str]) -> dict | None:
    """The JSON object of an entry, None when it is not one with exactly `keys`."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and data.keys() == keys else None


def _evidence_of(data: dict) -> EvidenceCount | None:
    counts, items, marked = data["counts"], data["items"], data["marked"]
    if not _evidence_shape(counts, items, marked):
        return None
    evidence = EvidenceCount()
    evidence.counts, evidence.items = counts, items
    evidence.marked = {kind: frozenset(marks) for kind, marks in marked.items()}
    return evidence


def _recipe(data: dict, lines: int, spec: PlanSpec) -> Recipe | None:
    """The Recipe of a plan entry's `data` when it is one recipe_of could have made of `lines`
    records under `spec` (its types the spec's, each client's record its own client, every
    reference field one of its type's), else None. Tested in bulk: a chunk holds dozens."""
    ids, types, clients, names = data["ids"], data["types"], data["clients"], data["names"]
    if not (type(ids) is list and type(types) is list and type(clients) is list and type(names) is list
            and len(ids) == len(clients) == lines and lines and len(set(ids)) == lines
            and set(map(type, chain(ids, types, names))) <= {str} and set(types) <= spec.type_names.keys()
            and set(map(type, clients)) <= {int, str}):
        return None
    kinds = _numbered(data["kinds"], [spec.type_names[kind] for kind in types], 0)    # the spec's one copy of each
    if kinds is None or len(kinds) != lines:
        return None
    # A record's client given by number is a client's record, its own client, first met as
    # itself (none before it names it); every client's record is one of those.
    own = set(filter(int.__instancecheck__, clients))
    if not all(0 <= c < lines and clients[c] == c and kinds[c] == "client" and clients.index(c) == c for c in own) \
            or kinds.count("client") != len(own):
        return None
    refs = _refs(data["refs"], kinds, names, spec)
    evidence = None if refs is None else _evidence_of(data)
    if evidence is None:
        return None
    return Recipe(ids, kinds, clients, refs, evidence, runs_of(clients))


def _numbered(numbers, values: list, lowest: int) -> list | None:
    """values[n] for each of `numbers` (a list of ints from `lowest` on: -1, the last value),
    or None when they are not (min and max refuse a string among numbers, indexing a float)."""
    try:
        if type(numbers) is not list or numbers and not (lowest <= min(numbers) and max(numbers) < len(values) - (lowest < 0)):
            return None
        return list(map(values.__getitem__, numbers))
    except TypeError:
        return None


def _refs(refs, kinds: list[str], names: list[str], spec: PlanSpec) -> tuple | None:
    """Recipe.refs of a plan entry: four columns of one length, each reference's record one of
    the chunk's, its field one of its type's, its item a pointer (a list field's) or None (-1),
    its target an id (the last two numbers into `names`)."""
    if not (type(refs) is list and len(refs) == 4 and len(set(map(len, refs))) == 1):
        return None
    records, fields = refs[0], refs[1]
    items, values = _numbered(refs[2], [*names, None], -1), _numbered(refs[3], names, 0)
    if items is None or values is None or _numbered(records, kinds, 0) is None or _numbered(fields, _FIELDS_OF_A_TYPE, 0) is None:
        return None
    # Each field of each type named once: a field's reference names its item's pointer exactly
    # when the field is a list's (its own pointer None).
    named = set(zip(map(kinds.__getitem__, records), fields, map(operator.is_, items, repeat(None))))
    if not all(f < len(spec.refs[kind]) and no_item == (spec.refs[kind][f][1] is not None) for kind, f, no_item in named):
        return None
    return records, fields, items, values


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
