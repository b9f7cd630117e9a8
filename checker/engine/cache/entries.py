"""A verdict as a cache entry's JSON, and back, trusting nothing read back.

JSON, never pickle: a cache folder may be shared or tampered with, and unpickling runs code.
An entry read back becomes a verdict only if it has exactly the shape the engine gives and
everything it names exists in this run (the rule and its alternative, the check's bindings, a
location and a value for every bound fact, records of the input): a corrupt, truncated or
foreign entry is a miss, never a crash or a finding made up from nothing.

A streamed run's verdict (engine/streamed.py) also carries where each bound record stands
(`located`) and what the partition's records give the CB-wide kinds (`cb_inputs`: their
shares, derive.cb_shares; null when none): its entry holds them too, and is stored only when
they read back exactly as they were, since the CB-wide partition is derived from `cb_inputs`.
"""
from __future__ import annotations

import json

import orjson

from checker.derive import cb_share_ids
from checker.records.stream import Located

_KEYS = {"sid", "matches", "where", "facts", "fact_count", "applied"}
_STREAMED_KEYS = _KEYS | {"located", "cb_inputs"}
_LOCATED_KEYS = {"type", "file", "root", "lines", "first_line"}
_SCALARS = (str, int, float, bool, type(None))


def encode(verdict, streamed: bool = False) -> str | None:
    """The entry's JSON text of an engine verdict (an ok EngineVerdict; `streamed`: with its
    located records and CB-wide inputs), or None when a value cannot be written as JSON exactly
    (NaN, a non-JSON type): such a verdict is not stored."""
    data = {"sid": verdict.sid, "matches": verdict.matches, "where": verdict.where, "facts": verdict.facts,
            "fact_count": verdict.fact_count, "applied": verdict.applied}
    if streamed:
        data["located"] = {rid: vars(where) for rid, where in verdict.located.items()}
        data["cb_inputs"] = verdict.cb_inputs or None
    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    # Read back as decode reads it (orjson, json where orjson refuses): 10,000 entries on the
    # night that fills a cache, 0.2 CPU-s less than json.loads.
    exact = not streamed or (_loads(text) or {}).get("cb_inputs") == data["cb_inputs"]
    return text if exact else None


def decode(text: str, sid: str, rules_by_id: dict, known_records, verdict_type, groups: int,
           streamed: bool = False):
    """The verdict an entry's text holds for partition `sid`, or None when it is not one this
    run can trust: see the module's docstring. `known_records` answers `id in known_records`
    for the input's record ids; `groups` is the number of applicability groups of the
    partition's scope (the verdict's `applied` holds one count per group); `streamed`: the
    entry must hold a streamed verdict's located records and CB-wide inputs too."""
    data = _loads(text)
    if not (type(data) is dict and data.keys() == (_STREAMED_KEYS if streamed else _KEYS) and data["sid"] == sid
            and _is_count(data["fact_count"]) and isinstance(data["applied"], list)
            and len(data["applied"]) == groups and _are_counts(data["applied"])):
        return None
    if data["matches"] == [] and data["where"] == {} and data["facts"] == {}:
        where, facts, matches = {}, {}, []     # nothing bound: nine verdicts in ten at 10,000 clients
    else:
        where, facts = _where(data["where"], known_records), _facts(data["facts"])
        if where is None or facts is None:
            return None
        matches = _matches(data["matches"], rules_by_id, where, facts)
    streamed_part = _streamed_part(data, known_records) if streamed else {}
    if matches is None or streamed_part is None:
        return None
    return verdict_type(sid, True, matches, where, fact_count=data["fact_count"], applied=tuple(data["applied"]),
                        facts=facts, **streamed_part)


def _streamed_part(data: dict, known_records) -> dict | None:
    """{"located": ..., "cb_inputs": ...} of a streamed entry, or None unless every located
    record and every record its CB-wide shares name is a record of the input, each place is
    one and the shares are the CB-wide kinds' (derive.cb_share_ids) or null."""
    located = data["located"]
    if type(located) is not dict:
        return None
    places = {rid: _located(place) for rid, place in located.items()} if located else {}
    shares = data["cb_inputs"]
    named = [] if shares is None else cb_share_ids(shares)
    if None in places.values() or named is None or not _all_known([*places, *named], known_records):
        return None
    return {"located": places, "cb_inputs": shares}


def _all_known(ids: list[str], known_records) -> bool:
    """Whether every one of `ids` (a few) is a record of the input: asked of them at once where
    `known_records` can (records/stubs.StubTable.knows_all, in C for the ids held in a dict:
    10,000 entries a night), else one by one."""
    knows_all = getattr(known_records, "knows_all", None)
    return knows_all(ids) if knows_all is not None else all(map(known_records.__contains__, ids))


def _located(place) -> Located | None:
    """The Located a place's JSON holds, or None. Read 30,000 times a night at 10,000 clients:
    JSON gives exactly dict, list, str and int (bool aside), so types are compared, not tested
    with isinstance."""
    if not (type(place) is dict and place.keys() == _LOCATED_KEYS):
        return None
    kind, file, root, lines, first_line = (place["type"], place["file"], place["root"], place["lines"],
                                           place["first_line"])
    if not (type(kind) is str and type(file) is str and type(root) is str and type(first_line) is int
            and first_line >= 0 and type(lines) is dict and _are_counts(lines.values())):
        return None
    return Located(kind, file, root, lines, first_line)


def _loads(text: str):
    """The entry's data; None when it is no JSON. orjson reads what json.dumps wrote the same
    (4x faster: 9,780 entries a night); json reads what orjson refuses (an integer beyond 64
    bits, a lone surrogate's escape), so such an entry is not a miss every night."""
    try:
        return orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        pass
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _are_counts(values) -> bool:
    """Whether every one of `values` is a count (_is_count; JSON gives no subclass of int but
    bool), tested in C: an entry holds one per applicability group and per located line."""
    values = list(values)
    if len(values) == 1:        # a JSON Lines record's one line
        return type(values[0]) is int and values[0] >= 0
    return set(map(type, values)) <= {int} and min(values, default=0) >= 0


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
