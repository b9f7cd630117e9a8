"""Runs compiled rulesets over one partition at a time on a durable_rules host with no
background threads (engine-notes point 1), one batch per ruleset with the gate fact last
(point 2), and the partition's state deleted afterwards (point 7).
"""
from __future__ import annotations

from dataclasses import dataclass

from durable import engine as durable_engine

from checker.engine.compile_durable import GATE_KIND
from checker.engine.facts import MAX_FACT_PROPERTIES
from checker.engine.rulesets import Ruleset, definition


class SyncHost(durable_engine.Host):
    """A durable_rules host whose dispatcher threads are never started: every action runs
    inside the caller's assert_facts, and no other thread touches the C core."""

    def _run(self):
        pass


class PartitionFailed(Exception):
    """The engine could not evaluate a partition; its findings are unknown, never "none"."""


@dataclass
class Firing:
    ruleset: str
    rule: str
    bindings: dict[str, str]      # user binding name -> fact id


class PartitionEngine:
    def __init__(self, rulesets: list[Ruleset]):
        self.rulesets = rulesets
        self.host = SyncHost()
        self._sinks = {}
        for rs in rulesets:
            sink, receipts = [], []
            self._sinks[rs.name] = (sink, receipts)
            self.host.register_rulesets({rs.name: definition(rs, sink, receipts)})

    def run(self, sid: str, facts: list[dict]) -> list[Firing]:
        for fact in facts:
            if len(fact) > MAX_FACT_PROPERTIES:
                raise PartitionFailed(f"fact {fact.get('id')!r} has {len(fact)} properties; "
                                      f"durable_rules takes at most {MAX_FACT_PROPERTIES}")
            if fact.get("sid") != sid:
                raise PartitionFailed(f"fact {fact.get('id')!r} belongs to partition {fact.get('sid')!r}, not {sid!r}")
        gate = {"sid": sid, "kind": GATE_KIND, "id": GATE_KIND}
        firings: list[Firing] = []
        for rs in self.rulesets:
            sink, receipts = self._sinks[rs.name]
            sink.clear()
            receipts.clear()
            keys, kinds = rs.keys, rs.kinds
            batch = [{k: v for k, v in f.items() if k in keys} for f in facts if f["kind"] in kinds] + [gate]
            try:
                self.host.assert_facts(rs.name, batch)
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
