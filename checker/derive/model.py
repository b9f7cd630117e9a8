"""What a derived value is: a registry entry with its name, where it sits, its type, what it
means, the parameters it reads and the function that computes it; and the records one
derivation pass sees."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from checker.records.schema_registry import FieldInfo


class Records:
    """The records one derivation pass sees (one partition, or every record for a CB-wide
    kind), grouped by type, with the run's parameters and the year of --as-of. Lookups that
    several values share (team days per audit, a client's sites) are built once per pass."""

    def __init__(self, records: list[dict], params: dict, as_of_year: int | None = None):
        self.params, self.as_of_year = params, as_of_year
        self.by_type: dict[str, list[dict]] = defaultdict(list)
        for rec in records:
            self.by_type[rec["type"]].append(rec)
        self._shared: dict[str, object] = {}

    def of_type(self, type_name: str) -> list[dict]:
        return self.by_type.get(type_name, [])

    def shared(self, name: str, build: Callable[["Records"], object]):
        if name not in self._shared:
            self._shared[name] = build(self)
        return self._shared[name]


# How a derived value may depend on the run's date. A derivation pass is given only the year of
# --as-of (Records.as_of_year), so a value depends on nothing or on that year; an entry that
# reads the year declares "year", and the change-date mechanism (checker.engine.change_dates)
# then looks for its changes on each 1 January. tests/test_change_dates.py holds every entry
# declared "none" to not moving with the year.
AS_OF = ("none", "year")


@dataclass(frozen=True)
class DerivedField:
    """A field computed onto records of type `on`; `compute(record, records)` returns None
    where the record lacks what the value needs (the field is then absent, so a rule reading
    it does not match). Entries run in registry order, so one may read an earlier one."""
    name: str                      # dotted field name on the record: audit_time.table1_days
    on: str                        # record type
    type: FieldInfo
    meaning: str
    parameters: tuple[str, ...]
    compute: Callable[[dict, Records], object]
    as_of: str = "none"            # how it depends on the run's date: "none" or "year" (see AS_OF)

    @property
    def key(self) -> str:
        return f"{self.on}.{self.name}"


class CbTally(Protocol):
    """Adds up what each client gives one CB-wide kind (its share, CbWide.share), one client at
    a time and in any order, keeping only what the kind's facts can still need; the shares
    themselves are kept by the caller (out of memory: engine/streamed.CbInputs), and given
    again, those of `wanted()` alone, to `finish`."""

    def add(self, sid: str, share) -> None:
        """Counts partition `sid`'s share."""

    def wanted(self) -> set[str]:
        """The partitions whose shares `finish` must see again."""

    def finish(self, shares: Iterable[tuple[str, object]]) -> list[dict]:
        """The kind's pseudo-records, in its order, given (sid, share) of the `wanted()`
        partitions in sid order."""


@dataclass(frozen=True)
class CbWide:
    """How a CB-wide kind is computed client by client, so a run never holds every client's
    records at once: `share(records)` is what one client's records give it (plain values,
    JSON's: a worker sends it, a cache entry keeps it), `share_ids(value)` the ids of the
    records a share names, or None when the value is no share of this kind (a cache entry is
    trusted only so far), `tally(params)` a CbTally."""
    share: Callable[[Records], object]
    share_ids: Callable[[object], list[str] | None]
    tally: Callable[[dict], CbTally]


def tallied(cb: CbWide) -> Callable[[Records], list[dict]]:
    """A CB-wide kind's compute over records seen together (every client's, in a whole-input
    run): their one share, tallied; so both runs compute the kind one way."""
    def compute(records: Records) -> list[dict]:
        share = cb.share(records)
        tally = cb.tally(records.params)
        tally.add("", share)
        return tally.finish([("", share)] if tally.wanted() else [])
    return compute


@dataclass(frozen=True)
class DerivedKind:
    """A fact kind of its own: pseudo-records with `id`, `type`, `_source` (the id of the
    record a finding names, of type `located_in`) and `fields`. Scope "client": computed per
    partition; "cb": computed once over every client's records, for the CB-wide partition."""
    name: str
    located_in: str
    scope: str
    fields: dict[str, FieldInfo]
    meaning: str
    parameters: tuple[str, ...]
    compute: Callable[[Records], list[dict]]
    as_of: str = "none"            # how it depends on the run's date: "none" or "year" (see AS_OF)
    # Whether its facts are a population a rule judges (a certified year, a surveillance site
    # year), or exist only where something is wrong (a number two clients share): a rule over
    # the latter has no population of its own to apply to (checker/catalog/applicability.py).
    population: bool = True
    cb: CbWide | None = None       # scope "cb": how it is computed client by client (`compute` is tallied(cb))

    @property
    def key(self) -> str:
        return self.name


# with_fields' plan per (entries, record type): the entries on that type, the parent objects
# their values go into, and each entry's parent and leaf name. Built once per pair: derive()
# passes the same registry tuple for every record of a type (keyed by identity, the tuple kept
# in the value so its id is not reused).
_WITH_PLANS: dict[tuple[int, str], tuple] = {}
MAX_WITH_PLANS = 256        # the registry's tuples make a few dozen


def _with_plan(entries, kind: str) -> tuple:
    plan = _WITH_PLANS.get((id(entries), kind))
    if plan is None or plan[0] is not entries:
        mine = [e for e in entries if e.on == kind]
        parents = sorted({e.name.rpartition(".")[0] for e in mine} - {""})
        plan = (entries, parents, [(e, *e.name.rpartition(".")[::2]) for e in mine])
        if len(_WITH_PLANS) < MAX_WITH_PLANS:
            _WITH_PLANS[(id(entries), kind)] = plan
    return plan


def with_fields(record: dict, entries, records: Records) -> dict:
    """`record` with the values of those `entries` that sit on its type, as a copy (nested
    objects the values go into are copied too, so the input is never changed); the record
    itself when no entry sits on its type."""
    _entries, parents, mine = _with_plan(entries, record["type"])
    if not mine:
        return record
    out = dict(record)
    for parent in parents:
        if isinstance(out.get(parent), dict):
            out[parent] = dict(out[parent])
    for entry, parent, leaf in mine:
        value = entry.compute(out, records)
        if value is not None:
            (out[parent] if parent else out)[leaf] = value
    return out
