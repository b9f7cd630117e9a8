"""Runs compiled rulesets over one partition at a time on a durable_rules host with no
background threads (engine-notes point 1), one batch per ruleset with the gate fact last
(point 2), and the partition's state deleted afterwards (point 7).
"""
from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from itertools import chain

import orjson
from durable import engine as durable_engine

from checker.engine.compile_durable import GATE_KIND
from checker.engine.facts import MAX_FACT_PROPERTIES, SHARED_SID
from checker.engine.rulesets import Ruleset, definition


class SyncHost(durable_engine.Host):
    """A durable_rules host whose dispatcher threads are never started: every action runs
    inside the caller's assert_facts, and no other thread touches the C core."""

    def _run(self):
        pass

    def assert_text(self, ruleset_name: str, facts: list[dict], text: str):
        """Host.assert_facts(ruleset_name, facts) with the facts' JSON text made by the caller
        (batch_text): the same calls into the C core and the same actions afterwards."""
        rules = self.get_ruleset(ruleset_name)
        core = durable_engine.durable_rules_engine
        return self._handle_function(
            rules, lambda batch: rules._handle_result(core.assert_facts(rules._handle, batch), facts), text, None)


# Types orjson would write where json.dumps writes nothing (it raises): sent to json.dumps instead.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
# A float orjson writes with an exponent and no "." (1e+16, 1e-07): the C core (json.c
# getNumber) reads it with atol as an integer followed by garbage, and the batch is lost
# (measured: the sentinel does not fire, or the process dies). Floats are told by their values,
# not by a scan of the text: a regex over a partition's 30-60 KB of JSON cost 0.4-0.8 ms, and
# a cheaper one matched the hex digest of every membership flag's key ("..._af941e01") and
# had every batch written twice.
_INFINITE = (math.inf, -math.inf)


def _dotted(value: float) -> orjson.Fragment:
    """`value` written with a "." and no exponent: the shortest decimal that reads back as it
    (repr), in positional notation, which atof reads to the same double."""
    text = format(decimal.Decimal(repr(value)), "f")
    return orjson.Fragment(text if "." in text else text + ".0")


def batch_text(facts: list[dict]) -> str | None:
    """The JSON text of `facts` for the C core, in a quarter of json.dumps' time, or None where
    durable_rules' own json.dumps must write it. orjson writes every string byte for byte as
    json.dumps does (ensure_ascii=False) and leaves out the spaces after `,` and `:` (which the
    core skips). The core reads a number with atol, or with atof when it holds a "."; so every
    float goes with a ".": orjson's own text where it has one (below 1e-4 orjson writes
    "0.00001" where json.dumps writes "1e-05", which the core misreads), else positional
    (_dotted; 1e16, which both write "1e+16"). A batch goes to json.dumps when it holds a value
    orjson writes as `null` (NaN, the infinities; no fact holds None), or a value orjson cannot
    write (an integer beyond 64 bits) or would write where json.dumps refuses (a date, a
    dataclass, a str subclass). tests/test_engine_batch_text.py holds the cases."""
    # Exact floats only: orjson refuses a float subclass (a TypeError here, as a str subclass).
    odd = [value for value in chain.from_iterable(map(dict.values, facts)) if value.__class__ is float or value is None]
    if odd and (None in odd or any(value != value or value in _INFINITE for value in odd)):
        return None              # orjson would write null
    try:
        text = orjson.dumps(facts, option=_PASSTHROUGH)
    except TypeError:            # orjson.JSONEncodeError
        return None
    if any(b"." not in orjson.dumps(value) for value in odd):
        text = orjson.dumps([{key: _dotted(value) if type(value) is float else value for key, value in fact.items()}
                             for fact in facts], option=_PASSTHROUGH)
    return text.decode("utf-8")


class PartitionFailed(Exception):
    """The engine could not evaluate a partition; its findings are unknown, never "none"."""


@dataclass
class Firing:
    ruleset: str
    rule: str
    bindings: dict[str, str]      # user binding name -> fact id


# The most shared facts (SHARED_SID) a PartitionEngine keeps as it sends them, per ruleset.
MAX_SHARED_KEPT = 100_000


class PartitionEngine:
    def __init__(self, rulesets: list[Ruleset]):
        self.rulesets = rulesets
        self.host = SyncHost()
        self._sinks = {}
        # Per ruleset: id(shared fact) -> (the fact, what the ruleset is sent of it). The fact
        # is held, so its id names no other object while its entry lasts.
        self._shared: dict[str, dict[int, tuple[dict, dict]]] = {}
        for rs in rulesets:
            sink, receipts = [], []
            self._sinks[rs.name] = (sink, receipts)
            self._shared[rs.name] = {}
            self.host.register_rulesets({rs.name: definition(rs, sink, receipts)})

    def run(self, sid: str, facts: list[dict]) -> list[Firing]:
        """The firings of every ruleset over the partition `sid`'s facts: its own (with partition
        id `sid`) and those it shares (SHARED_SID), all sent with `sid`."""
        for fact in facts:
            if len(fact) > MAX_FACT_PROPERTIES:
                raise PartitionFailed(f"fact {fact.get('id')!r} has {len(fact)} properties; "
                                      f"durable_rules takes at most {MAX_FACT_PROPERTIES}")
            if fact.get("sid") != sid and fact.get("sid") != SHARED_SID:
                raise PartitionFailed(f"fact {fact.get('id')!r} belongs to partition {fact.get('sid')!r}, not {sid!r}")
        gate = {"sid": sid, "kind": GATE_KIND, "id": GATE_KIND}
        firings: list[Firing] = []
        for rs in self.rulesets:
            sink, receipts = self._sinks[rs.name]
            sink.clear()
            receipts.clear()
            batch = self._batch(rs, facts, sid) + [gate]
            text = batch_text(batch)
            try:
                if text is None:
                    self.host.assert_facts(rs.name, batch)
                else:
                    self.host.assert_text(rs.name, batch, text)
            except durable_engine.MessageNotHandledException as exc:
                raise PartitionFailed(f"ruleset {rs.name}: a fact reached no rule ({str(exc)[:200]})") from None
            except Exception as exc:  # the C core reports its failures as plain errors
                raise PartitionFailed(f"ruleset {rs.name}: {type(exc).__name__}: {exc}") from None
            finally:
                if receipts or sink:
                    self.host.delete_state(rs.name, sid)
            if receipts != [sid]:
                raise PartitionFailed(f"ruleset {rs.name}: the sentinel fired {len(receipts)} times, not once; "
                                      f"the partition was not evaluated completely")
            firings.extend(Firing(rs.name, name, b) for name, b in sink)
        return firings

    def _batch(self, rs: Ruleset, facts: list[dict], sid: str) -> list[dict]:
        """What `rs` is sent of `facts`: those of its kinds, with only the properties its tests
        name (Ruleset.keys), each with partition id `sid`. A shared fact is cut once a process
        and copied with `sid` for each partition ("sid" stays its first key)."""
        keys, kinds, kept = rs.keys, rs.kinds, self._shared[rs.name]
        batch = []
        for fact in facts:
            if fact["kind"] not in kinds:
                continue
            if fact["sid"] == sid:
                batch.append({k: v for k, v in fact.items() if k in keys})
                continue
            cut = kept.get(id(fact))
            if cut is None:
                cut = (fact, {k: v for k, v in fact.items() if k in keys})
                if len(kept) < MAX_SHARED_KEPT:
                    kept[id(fact)] = cut
            batch.append(dict(cut[1], sid=sid))
        return batch
