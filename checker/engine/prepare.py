"""Turns one partition's records into what the evaluators read: enriched records and derived
pseudo-records (for the reference evaluator), and flat facts with their locations (for the
engine). Runs inside the worker process so that parallel partitions prepare in parallel.
"""
from __future__ import annotations

from checker.derive import derive
from checker.engine.facts import record_facts


def engine_facts(records: list[dict], params: dict, as_of_year: int, sid: str, memberships: dict | None = None):
    """(facts, where): facts in a stable order; where maps fact id -> (record id, pointer)."""
    enriched, pseudo = derive(records, params, as_of_year)
    facts, where = [], {}
    for rec in sorted(enriched, key=lambda r: r["id"]) + pseudo:
        facts.extend(record_facts(rec, sid, where, memberships))
    return facts, where
