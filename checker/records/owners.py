"""Which client owns each indexed record, as a streamed first pass keeps it (the index's
owner_client, records/stream.py): id -> client id, None for a record no client owns.

A dict of 1 M str ids took the main process about 100 MB at 25,000 JSON Lines clients (38 MB
of entries, 62 MB of strings), for the whole run. Here only the ids the pass may still ask for
often are a dict (`hot`): those no client owns (people, the CB: every client's records name
them), those kept whole (records/stubs.StubTable.whole), and the last FRESH ids added. The
others are put away, `FRESH` at a time, as two numpy columns sorted together: the high 32 bits
of the id's hash (`half`) and its client's number (8 bytes a record: the whole hash took 4 MB
more at a million ids, and an id not put away matches one of a million halves about once in
4,000 look-ups, each then one block read), with a one-hash Bloom filter over those halves
(about two bytes a record) that answers most look-ups of an id that is not there (every new id
is one) without a search. The id itself is not kept: it is in its client's block of rows
(StubTable), where a record put away always is.

Exact: a hash says only where to look. An id whose hash matches one put away is looked for in
the block of each client that hash stands for (StubTable.holds): two ids with one hash are two
entries, each found by its own id, and an id that is not there is never taken for one that is
(tests/test_owners.py forces every id onto a few hashes and the index stays the same).

The order of items() is the ids' (a dict's is the order they were added in, which this one
does not keep; no reader of the index depends on it).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import compress, repeat

_MISSING = object()


def lazy_numpy():
    """numpy, imported when first needed (ids first put away, rows made or references judged
    in bulk: records/stubs.py, records/index.py): its import costs a process about 15 MB
    (PSS), which an export of fewer than FRESH records, or a worker forked before the pass,
    need not pay."""
    import numpy
    return numpy


class Owners(Mapping):
    """id -> client id (None: no client's); see the module's docstring. Attached to the pass's
    StubTable before any id is put away. The hashes are Python's own hash() (salted per
    process): the columns never leave the process that made them."""
    FRESH = 65536           # ids added before they are put away: their dict is about 6 MB
    hash_id = staticmethod(hash)      # a test forces collisions through it
    FEW = 256               # ids asked for one by one rather than in bulk (put_away_among)

    def __init__(self, put_away: bool = True):
        if not put_away:        # every id stays in `hot`: a plain dict's speed and size
            self.FRESH = float("inf")
        self.hot: dict[str, str | None] = {}
        self.fresh: list[str] = []          # ids in `hot` owned by a client, added since the last put_away
        self.table = None                   # records/stubs.StubTable, once attached
        self._not_put_away: set[str] = set()    # ids surely not put away since the last put_away
        self.clients: list[str] = []        # by number
        self.client_no: dict[str, int] = {}
        self.np = None                          # numpy, once ids are put away
        self.hashes = ()                        # the ids' halves put away, sorted (an int32 array once any are)
        self.numbers = ()                       # their clients' numbers, in the same order
        self._bloom = memoryview(bytearray(1))
        self._bloom_bits = 0                    # a power of two; 0: nothing put away
        self._answers = None                    # (unowned ids, counts) once the pass is over (finish)

    def attach(self, table):
        """The table whose blocks hold the ids put away (`table.holds(rid, client)`,
        `table.block_ids(client)`) and whose records kept whole (`table.whole`) stay in `hot`."""
        self.table = table

    def half(self, rid: str) -> int:
        """The high 32 bits of `rid`'s hash (as int32: _halves does it for an array)."""
        return self.hash_id(rid) >> 32

    def number(self, client: str) -> int:
        """The number of client `client` (given on first use)."""
        found = self.client_no.get(client)
        if found is None:
            found = self.client_no[client] = len(self.clients)
            self.clients.append(client)
        return found

    # The Mapping, with a dict's assignment.
    def __setitem__(self, rid: str, client: str | None):
        self._still_open()
        self.hot[rid] = client
        if client is not None:
            self.fresh.append(rid)

    def add_run(self, rids: list[str], client: str):
        """`self[rid] = client` for each of `rids` (ids not indexed yet)."""
        self._still_open()
        self.hot.update(zip(rids, repeat(client)))
        self.fresh += rids

    def get(self, rid, default=None):
        found = self.hot.get(rid, _MISSING)
        if found is not _MISSING:
            return found
        return self._put_away_owner(rid, default)

    def __getitem__(self, rid):
        found = self.get(rid, _MISSING)
        if found is _MISSING:
            raise KeyError(rid)
        return found

    def __contains__(self, rid) -> bool:
        return rid in self.hot or self.get(rid, _MISSING) is not _MISSING

    def __len__(self) -> int:
        return len(self.hot) + len(self.hashes)

    def __iter__(self):
        return (rid for rid, _client in self.items())

    def items(self):
        """(id, client) of every id, in the ids' order: those put away read from their blocks."""
        found = dict(self.hot)
        if len(self.hashes):
            for number in self.np.unique(self.numbers).tolist():
                client = self.clients[number]
                found.update((rid, client) for rid in self.table.block_ids(client) if rid not in self.hot)
        return iter(sorted(found.items()))

    def values(self):
        return (client for _rid, client in self.items())

    # Answers without a walk over every id.
    def unowned(self) -> list[str]:
        """The ids no client owns, in the order they were added (never put away)."""
        if self._answers is not None:
            return list(self._answers[0])
        return [rid for rid, client in self.hot.items() if client is None]

    def counts(self) -> Counter:
        """How many ids each client owns (None: how many no client does)."""
        if self._answers is not None:
            return Counter(self._answers[1])
        found = Counter(self.hot.values())
        if len(self.hashes):
            for number, count in enumerate(self.np.bincount(self.numbers).tolist()):
                if count:
                    found[self.clients[number]] += count
        return found

    # Ids put away.
    def maybe_put_away(self, rid) -> bool:
        """False when `rid` was surely not put away (the Bloom filter's answer: one bit)."""
        bits = self._bloom_bits
        if not bits or type(rid) is not str:
            return False
        at = self.half(rid) & (bits - 1)
        return bool(self._bloom[at >> 3] >> (at & 7) & 1)

    def _put_away_owner(self, rid, default):
        """The client of `rid` among the ids put away, or `default` (an id not found is
        remembered until the next put_away: a person not read yet is asked for by every
        record that names them)."""
        if rid in self._not_put_away:
            return default
        if self.maybe_put_away(rid):
            # as the array's own type: a Python int makes numpy convert the whole array each call
            hashes = self.hashes
            wanted = hashes.dtype.type(self.half(rid))
            at, end = int(hashes.searchsorted(wanted, "left")), int(hashes.searchsorted(wanted, "right"))
            for number in self.numbers[at:end].tolist():
                client = self.clients[number]
                if self.table.holds(rid, client):
                    return client
        if type(rid) is str and self._bloom_bits:
            self._not_put_away.add(rid)
        return default

    def surely_not_put_away(self, rid) -> bool:
        """Whether `rid` is not among the ids put away."""
        return rid in self._not_put_away or self._put_away_owner(rid, _MISSING) is _MISSING

    def put_away_among(self, rids: list) -> set[str]:
        """Those of `rids` (any values) that were put away, asked for at once."""
        if not len(self.hashes):
            return set()
        if len(rids) < self.FEW:        # numpy's calls cost more than the Bloom filter asked for each
            return {rid for rid in rids if self.maybe_put_away(rid) and self._put_away_owner(rid, _MISSING)
                    is not _MISSING}
        strings = [rid for rid in rids if type(rid) is str]
        return set(compress(strings, self.put_away_each(strings)))

    def put_away_any(self, rids: list[str]) -> bool:
        """Whether any of `rids` (strings) was put away, asked for them all at once."""
        return any(self.put_away_each(rids))

    def put_away_each(self, rids: list[str]) -> list[bool]:
        """For each of `rids` (strings), whether it was put away."""
        hashes, np = self.hashes, self.np
        if not len(hashes) or not rids:
            return [False] * len(rids)
        wanted = _halves(np, rids, self.hash_id)
        bits = wanted & (self._bloom_bits - 1)      # the Bloom filter first: most are not there
        maybe = np.flatnonzero(np.frombuffer(self._bloom, np.uint8)[bits >> 3] >> (bits & 7) & 1)
        at = np.minimum(hashes.searchsorted(wanted[maybe]), len(hashes) - 1)
        found = [False] * len(rids)
        for k in maybe[hashes[at] == wanted[maybe]].tolist():
            found[k] = self._put_away_owner(rids[k], _MISSING) is not _MISSING
        return found

    def finish(self):
        """The pass is over: the last ids put away, and the answers of unowned() and counts()
        worked out once. A cached night keeps every id in `hot` (about 410 k at 10k clients), and
        each walk over it took 26-50 ms for each of the four readers that ask; the index
        changes no more, so a later write is a mistake and raises."""
        self.put_away(every=True)
        self._answers = (tuple(self.unowned()), self.counts())
        self._compact()

    def _compact(self):
        """The columns made smaller for the rest of the run, once no id is added: the clients'
        numbers two bytes each when they fit, and the Bloom filter one bit that lets every
        look-up through to the search (the filter spared the pass a search for each new id;
        after it, an id put away is seldom asked for: not once in a check of 2,500 generated
        JSON Lines clients). At 25,000 clients, 4 MB of the main process for the clients' stage
        (1 M ids: 2 MB of numbers, a 2 MB filter)."""
        if not len(self.hashes):
            return
        if len(self.clients) <= 1 << 16:
            self.numbers = self.numbers.astype(self.np.uint16)
        self._bloom, self._bloom_bits = memoryview(bytearray(b"\x01")), 1

    def _still_open(self):
        if self._answers is not None:
            raise RuntimeError("records/owners.Owners written after finish(): the pass's index is final")

    def put_away(self, every: bool = False):
        """The fresh ids (but those pinned) moved out of `hot` into the sorted columns, when
        there are FRESH of them, or any with `every` once some were put away (an export of
        fewer ids keeps them all in `hot`, and never imports numpy)."""
        last = every and self.np is not None
        if self.fresh and (len(self.fresh) >= self.FRESH or last):
            pinned = self.table.whole
            moved = [rid for rid in self.fresh if rid not in pinned]
            self.fresh = []
            self._not_put_away = set()
            if moved:
                self._move(moved)
        if last:        # the pass's last: the dict's table, sized for FRESH ids, made again for the few left;
            # the old one emptied, as StubTable._hot (a fast path falling back on these Owners)
            # still refers to it and kept its table (about 2 MB) alive for the whole run
            old, self.hot = self.hot, dict(self.hot)
            old.clear()

    def _move(self, moved: list[str]):
        """`moved` (ids in `hot`) moved into the sorted columns."""
        owners = list(map(self.hot.pop, moved))
        for client in set(owners).difference(self.client_no):
            self.number(client)
        if self.np is None:
            np = self.np = lazy_numpy()
            self.hashes, self.numbers = np.empty(0, np.int32), np.empty(0, np.int32)
        np = self.np
        numbers = np.fromiter(map(self.client_no.__getitem__, owners), np.int32, len(owners))
        hashes = _halves(np, moved, self.hash_id)
        order = np.argsort(hashes, kind="stable")
        hashes, numbers = hashes[order], numbers[order]
        at = np.searchsorted(self.hashes, hashes)
        self.hashes, self.numbers = np.insert(self.hashes, at, hashes), np.insert(self.numbers, at, numbers)
        self._bloom_add(hashes)

    def _bloom_add(self, hashes):
        """The Bloom filter over every half put away: 16 bits an id, made again twice as large
        when it is fuller."""
        bits = self._bloom_bits
        if len(self.hashes) * 16 > bits:
            while len(self.hashes) * 16 > bits:
                bits = max(bits * 2, 1 << 16)
            self._bloom_bits, hashes = bits, self.hashes
            self._bloom = memoryview(bytearray(bits >> 3))
        np = self.np
        at = hashes.astype(np.int64) & (bits - 1)
        np.bitwise_or.at(np.frombuffer(self._bloom, np.uint8), at >> 3, np.left_shift(1, at & 7).astype(np.uint8))


def _halves(np, rids: list[str], hash_id):
    """The high 32 bits of each of `rids`' hashes (Owners.half), an int32 array."""
    return (np.fromiter(map(hash_id, rids), np.int64, len(rids)) >> 32).astype(np.int32)
