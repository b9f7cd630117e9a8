"""Turns one partition's records into what the engine reads: flat facts with their locations.
Runs inside the worker process so that parallel partitions prepare in parallel.
"""
from __future__ import annotations

from checker.derive import derive
from checker.engine.facts import record_facts

_UNSTAMPED = ""    # the partition id of cached shared facts, replaced for each partition


class SharedFacts:
    """The facts of the CB-wide records (people, the CB, its activities), flattened once per
    worker process and stamped with each partition's id: 62 % of a run's facts were copies
    of the same people, deep-copied and flattened again for every client. derive() neither
    reads nor changes them, so they skip it; the differential test holds that (the reference
    evaluator derives over every record of the partition)."""

    def __init__(self, records: dict[str, dict], memberships: dict | None):
        self.records, self.memberships = records, memberships
        self._cache: dict[str, tuple[list[dict], dict]] = {}

    def facts(self, record_id: str, sid: str, where: dict) -> list[dict]:
        if record_id not in self._cache:
            mine: dict = {}
            self._cache[record_id] = (record_facts(self.records[record_id], _UNSTAMPED, mine, self.memberships), mine)
        facts, mine = self._cache[record_id]
        where.update(mine)
        return [dict(fact, sid=sid) for fact in facts]


def engine_facts(records: list[dict], params: dict, as_of_year: int, sid: str, memberships: dict | None = None,
                 shared_ids: list[str] = (), shared: SharedFacts | None = None):
    """(facts, where): facts in a stable order (records by id, then derived pseudo-records);
    where maps fact id -> (record id, pointer). `shared_ids` name CB-wide records whose facts
    come from `shared`."""
    enriched, pseudo = derive(records, params, as_of_year)
    where: dict = {}
    groups = [(rec["id"], record_facts(rec, sid, where, memberships)) for rec in enriched]
    groups += [(rid, shared.facts(rid, sid, where)) for rid in shared_ids]
    facts = [fact for _rid, group in sorted(groups, key=lambda g: g[0]) for fact in group]
    for rec in pseudo:
        facts.extend(record_facts(rec, sid, where, memberships))
    return facts, where
