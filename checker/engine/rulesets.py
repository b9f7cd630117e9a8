"""Packs compiled rules into durable_rules rulesets: adds the actions, the sentinel and the
absorber, splits the catalog so no alpha test carries too many rules, and checks each
finished definition against the safe pattern before anything is registered.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from checker.engine.compile_durable import GATE_BINDING, GATE_KIND, CompiledRule, durable_name
from checker.engine.safety import (ABSORBER, ABSORBER_TEST, MAX_ALPHA_STACK, MAX_RULES_PER_ALPHA, SENTINEL,
                                   SENTINEL_TEST, alpha_nodes, alpha_stack_bound, check_ruleset)

_counter = itertools.count()


@dataclass
class Ruleset:
    name: str
    rules: dict[str, CompiledRule] = field(default_factory=dict)   # durable rule name -> compiled rule
    kinds: set[str] = field(default_factory=set)


def _first_alpha(rule: CompiledRule):
    keys = []
    for entry in rule.definition["all"]:
        (_, test), = entry.items()
        first = test["$and"][0] if "$and" in test else test
        keys.append(repr(sorted(first.items())))
    return keys


def pack(compiled: list[CompiledRule], prefix: str) -> list[Ruleset]:
    """Group rules into as few rulesets as the engine's limits allow, in catalog order: beta
    nodes per alpha test (point 8) and the alpha walk's stack per fact kind (64 entries)."""
    rulesets: list[Ruleset] = []
    load: dict[str, int] = {}
    nodes: dict[str, set] = {}
    current = None
    for rule in compiled:
        keys = _first_alpha(rule)
        mine = alpha_nodes(rule.definition["all"])
        too_many_rules = any(load.get(k, 0) + keys.count(k) > MAX_RULES_PER_ALPHA - 1 for k in keys)
        too_many_nodes = any(alpha_stack_bound(nodes.get(kind, set()) | n) > MAX_ALPHA_STACK
                             for kind, n in mine.items())
        if current is None or too_many_rules or too_many_nodes:
            current = Ruleset(f"{prefix}_{next(_counter)}")
            rulesets.append(current)
            load = {repr(sorted({"kind": GATE_KIND}.items())): 1}  # the sentinel
            nodes = {}
        for k in keys:
            load[k] = load.get(k, 0) + 1
        for kind, n in mine.items():
            nodes.setdefault(kind, set()).update(n)
        current.rules[f"r{len(current.rules)}"] = rule
        current.kinds |= rule.kinds
    for rs in rulesets:
        rs.kinds.add(GATE_KIND)
    return rulesets


def _firing_action(sink: list, rule_name: str, bindings: list[str]):
    names = [(b, durable_name(b)) for b in bindings]

    def action(c):
        sink.append((rule_name, {b: getattr(c, d).id for b, d in names}))
    return action


def _sentinel_action(receipts: list):
    def action(c):
        receipts.append(getattr(c, GATE_BINDING).sid)
    return action


def _absorber_action(c):
    raise AssertionError("the absorber rule can never fire: no fact has kind __never__")


def definition(rs: Ruleset, sink: list, receipts: list) -> dict:
    """The durable_rules definition of a ruleset, wired to `sink` (firings) and `receipts`."""
    out = {}
    for name, rule in rs.rules.items():
        out[name] = dict(rule.definition, run=_firing_action(sink, name, rule.bindings))
    out[SENTINEL] = {"all": [dict(t) for t in SENTINEL_TEST], "run": _sentinel_action(receipts)}
    out[ABSORBER] = {"all": [dict(t) for t in ABSORBER_TEST], "run": _absorber_action}
    check_ruleset(out)
    return out
