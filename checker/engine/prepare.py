"""Turns one partition's records into what the engine reads: flat facts with their locations.
Runs inside the worker process so that parallel partitions prepare in parallel.
"""
from __future__ import annotations

from checker.derive import derive
from checker.engine.facts import SHARED_SID, record_facts


class SharedFacts:
    """The facts of the CB-wide records (people, the CB, its activities), flattened once per
    worker process: 62 % of a run's facts were copies of the same people, deep-copied and
    flattened again for every client. Every partition is given the same facts, with the
    partition id SHARED_SID (engine/host.PartitionEngine sends them with the partition's own,
    and no one changes them). derive() neither reads nor changes them, so they skip it; the
    differential test holds that (the reference evaluator derives over every record of the
    partition)."""

    def __init__(self, records: dict[str, dict], memberships: dict | None):
        self.records, self.memberships = records, memberships
        self._cache: dict[str, tuple[list[dict], dict]] = {}

    def facts(self, record_id: str, where: dict) -> list[dict]:
        if record_id not in self._cache:
            mine: dict = {}
            self._cache[record_id] = (record_facts(self.records[record_id], SHARED_SID, mine, self.memberships), mine)
        facts, mine = self._cache[record_id]
        where.update(mine)
        return facts


def engine_facts(records: list[dict], params: dict, as_of_year: int, sid: str, memberships: dict | None = None,
                 shared_ids: list[str] = (), shared: SharedFacts | None = None):
    """(facts, where): facts in a stable order (records by id, then derived pseudo-records);
    where maps fact id -> (record id, pointer). `shared_ids` name CB-wide records whose facts
    come from `shared` (with the partition id SHARED_SID; the others' is `sid`)."""
    enriched, pseudo = derive(records, params, as_of_year)
    where: dict = {}
    groups = [(rec["id"], record_facts(rec, sid, where, memberships)) for rec in enriched]
    groups += [(rid, shared.facts(rid, where)) for rid in shared_ids]
    facts = [fact for _rid, group in sorted(groups, key=lambda g: g[0]) for fact in group]
    for rec in pseudo:
        facts.extend(record_facts(rec, sid, where, memberships))
    return facts, where
