"""Packs compiled rules into durable_rules rulesets: adds the actions, the sentinel and the
absorber, splits the catalog so no alpha test carries too many rules, and checks each
finished definition against the safe pattern before anything is registered.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from checker.engine.compile_durable import GATE_BINDING, GATE_KIND, CompiledRule, durable_name
from checker.engine.safety import (ABSORBER, ABSORBER_TEST, MAX_ALPHA_STACK, MAX_RULES_PER_ALPHA, SENTINEL,
                                   SENTINEL_TEST, alpha_nodes, check_ruleset)

_counter = itertools.count()


@dataclass
class Ruleset:
    name: str
    rules: dict[str, CompiledRule] = field(default_factory=dict)   # durable rule name -> compiled rule
    kinds: set[str] = field(default_factory=set)
    # Every name its definitions hold, as a key or a value: a superset of the fact properties
    # its tests read. The engine is sent only these (a property no test names cannot change a
    # match, and a fact keeps its `id`, `sid` and `kind`): 35 % fewer properties to serialise
    # and parse per partition. Filled by pack(), once per catalog.
    keys: frozenset = frozenset()


def _names(definition, out: set) -> set:
    """Every dict key and string value in `definition`."""
    if isinstance(definition, dict):
        for key, value in definition.items():
            out.add(key)
            _names(value, out)
    elif isinstance(definition, (list, tuple)):
        for value in definition:
            _names(value, out)
    elif isinstance(definition, str):
        out.add(definition)
    return out


def _first_alpha(rule: CompiledRule):
    keys = []
    for entry in rule.definition["all"]:
        (_, test), = entry.items()
        first = test["$and"][0] if "$and" in test else test
        keys.append(repr(sorted(first.items())))
    return keys


class _AlphaTree:
    """One fact kind's alpha nodes in the ruleset being packed, with what alpha_stack_bound
    reads kept up to date (children per node, the widest node per depth), so a rule's effect on
    the bound costs its own nodes, not a walk of the whole tree: packing the catalog rule by
    rule was quadratic."""

    def __init__(self):
        self.nodes: set = set()
        self.children: dict[tuple, int] = {}
        self.widest: dict[int, int] = {}

    def bound_with(self, more: set) -> int:
        """alpha_stack_bound(self.nodes | more)."""
        children: dict[tuple, int] = {}
        for depth, parent, _node in more - self.nodes:
            children[(depth, parent)] = children.get((depth, parent), self.children.get((depth, parent), 0)) + 1
        widest = dict(self.widest)
        for (depth, _parent), count in children.items():
            widest[depth] = max(widest.get(depth, 0), count)
        return sum(widest.values())

    def add(self, more: set):
        for depth, parent, node in more - self.nodes:
            self.nodes.add((depth, parent, node))
            count = self.children[(depth, parent)] = self.children.get((depth, parent), 0) + 1
            self.widest[depth] = max(self.widest.get(depth, 0), count)


def pack(compiled: list[CompiledRule], prefix: str) -> list[Ruleset]:
    """Group rules into as few rulesets as the engine's limits allow, in catalog order: beta
    nodes per alpha test (point 8) and the alpha walk's stack per fact kind (64 entries)."""
    rulesets: list[Ruleset] = []
    load: dict[str, int] = {}
    trees: dict[str, _AlphaTree] = {}
    current = None
    for rule in compiled:
        keys = _first_alpha(rule)
        mine = alpha_nodes(rule.definition["all"])
        too_many_rules = any(load.get(k, 0) + keys.count(k) > MAX_RULES_PER_ALPHA - 1 for k in keys)
        too_many_nodes = any(trees.get(kind, _AlphaTree()).bound_with(n) > MAX_ALPHA_STACK for kind, n in mine.items())
        if current is None or too_many_rules or too_many_nodes:
            current = Ruleset(f"{prefix}_{next(_counter)}")
            rulesets.append(current)
            load = {repr(sorted({"kind": GATE_KIND}.items())): 1}  # the sentinel
            trees = {}
        for k in keys:
            load[k] = load.get(k, 0) + 1
        for kind, n in mine.items():
            trees.setdefault(kind, _AlphaTree()).add(n)
        current.rules[f"r{len(current.rules)}"] = rule
        current.kinds |= rule.kinds
    for rs in rulesets:
        rs.kinds.add(GATE_KIND)
        rs.keys = frozenset(_names([rule.definition for rule in rs.rules.values()], {"sid", "kind", "id"}))
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
