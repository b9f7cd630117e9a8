"""A verdict as a cache entry's JSON, and back, trusting nothing read back.

JSON, never pickle: a cache folder may be shared or tampered with, and unpickling runs code.
An entry read back becomes a verdict only if it has exactly the shape the engine gives and
everything it names exists in this run (the rule and its alternative, the check's bindings, a
location and a value for every bound fact, records of the input): a corrupt, truncated or
foreign entry is a miss, never a crash or a finding made up from nothing.
"""
from __future__ import annotations

import json

_KEYS = {"sid", "matches", "where", "facts", "fact_count", "applied"}
_SCALARS = (str, int, float, bool, type(None))


def encode(verdict) -> str | None:
    """The entry's JSON text of an engine verdict (an ok EngineVerdict), or None when a value
    cannot be written as JSON exactly (NaN, a non-JSON type): such a verdict is not stored."""
    try:
        return json.dumps({"sid": verdict.sid, "matches": verdict.matches, "where": verdict.where,
                           "facts": verdict.facts, "fact_count": verdict.fact_count, "applied": verdict.applied},
                          sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None


def decode(text: str, sid: str, rules_by_id: dict, known_records, verdict_type, groups: int):
    """The verdict an entry's text holds for partition `sid`, or None when it is not one this
    run can trust: see the module's docstring. `known_records` answers `id in known_records`
    for the input's record ids; `groups` is the number of applicability groups of the
    partition's scope (the verdict's `applied` holds one count per group)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    if not (isinstance(data, dict) and set(data) == _KEYS and data["sid"] == sid and _is_count(data["fact_count"])
            and isinstance(data["applied"], list) and len(data["applied"]) == groups
            and all(_is_count(n) for n in data["applied"])):
        return None
    where, facts = _where(data["where"], known_records), _facts(data["facts"])
    if where is None or facts is None:
        return None
    matches = _matches(data["matches"], rules_by_id, where, facts)
    if matches is None:
        return None
    return verdict_type(sid, True, matches, where, fact_count=data["fact_count"], applied=tuple(data["applied"]),
                        facts=facts)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _where(where, known_records) -> dict | None:
    """fact id -> (record id, JSON Pointer inside the record); None unless every one is a
    pointer ("" or "/...") into a record of the input."""
    if not isinstance(where, dict):
        return None
    out = {}
    for fact_id, place in where.items():
        if not (isinstance(place, list) and len(place) == 2 and all(isinstance(p, str) for p in place)):
            return None
        record_id, pointer = place
        if record_id not in known_records or (pointer and not pointer.startswith("/")):
            return None
        out[fact_id] = (record_id, pointer)
    return out


def _facts(facts) -> dict | None:
    if not isinstance(facts, dict):
        return None
    for fact in facts.values():
        if not (isinstance(fact, dict) and all(isinstance(v, _SCALARS) for v in fact.values())):
            return None
    return facts


def _matches(matches, rules_by_id: dict, where: dict, facts: dict) -> list | None:
    """[(rule id, alternative, {binding: fact id})], each naming a judged rule, one of its
    alternatives and exactly that alternative's bindings, each bound to a located fact."""
    if not isinstance(matches, list):
        return None
    out = []
    for match in matches:
        if not (isinstance(match, list) and len(match) == 3):
            return None
        rule_id, alternative, bindings = match
        rule = rules_by_id.get(rule_id) if isinstance(rule_id, str) else None
        if rule is None or not _is_count(alternative) or alternative >= len(rule.checks):
            return None
        names = {b.name for b in rule.checks[alternative].bindings}
        if not (isinstance(bindings, dict) and set(bindings) == names
                and all(isinstance(f, str) and f in where and f in facts for f in bindings.values())):
            return None
        out.append((rule_id, alternative, bindings))
    return out
