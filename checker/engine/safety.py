"""Enforces the safe durable_rules pattern (../shared/engine-notes/README.md) on a finished
ruleset definition, before it is registered. Anything outside the pattern is refused with
the point it breaks; nothing is silently repaired here.
"""
from __future__ import annotations

import inspect

from checker.engine.compile_durable import GATE_BINDING, GATE_KIND

MAX_RULES_PER_ALPHA = 200          # durable_rules fails at 256 beta nodes on one alpha test (point 8)
# events.c handleAlpha walks the alpha network depth first with a fixed 64-entry stack: a fact
# that matches 65 sibling tests fails with error 303 (measured here: 64 pass, 65 fail). The
# stack holds, at most, the pushed-but-unvisited children along one path, so a ruleset keeps
# the sum over depths of the largest number of children of one node below the stack, with room
# for the root's own entries (the kind, gate and absorber tests).
MAX_ALPHA_STACK = 56
MAX_CHAIN_TESTS = 30               # MAX_SEQUENCE_EXPRESSIONS is 32
MAX_RULE_ENTRIES = 15              # MAX_MESSAGE_FRAMES is 16
SENTINEL = "sentinel__"
ABSORBER = "absorber__"
SENTINEL_TEST = [{GATE_BINDING: {"kind": GATE_KIND}}]
ABSORBER_TEST = [{"any__": {"$ex": {"id": 1}}}, {"never__": {"kind": "__never__"}}]


class UnsafeRuleset(ValueError):
    """A definition that breaks the safe pattern; the message names the rule and the point."""


def _refs(test):
    """Bindings a test reads: {binding: key} values and $l/$r arithmetic operands."""
    found = []
    if isinstance(test, dict):
        for key, value in test.items():
            if key in ("$and", "$or"):
                for t in value:
                    found += _refs(t)
            elif key in ("$ex", "$nex"):
                continue
            elif key.startswith("$") and isinstance(value, dict):
                for _, operand in value.items():
                    found += _operand_refs(operand)
            else:
                found += _operand_refs(value)
    return found


def _operand_refs(operand):
    if isinstance(operand, dict):
        if "$add" in operand or "$sub" in operand:
            inner = operand.get("$add") or operand.get("$sub")
            return _operand_refs(inner["$l"]) + _operand_refs(inner["$r"])
        return [(b, k) for b, k in operand.items()]
    return []


def _guarded_keys(test) -> set[str]:
    tests = test["$and"] if isinstance(test, dict) and "$and" in test else [test]
    keys = set()
    for t in tests:
        if "$ex" in t:
            keys |= set(t["$ex"])
    return keys


def _check_rule(name, rule):
    where = f"rule {name!r}"
    if set(rule) != {"all", "run"}:
        raise UnsafeRuleset(f"{where}: only `all` rules with one action are allowed")
    run = rule["run"]
    params = list(inspect.signature(run).parameters.values())
    if len(params) != 1 or params[0].default is not inspect.Parameter.empty or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        raise UnsafeRuleset(f"{where}: an action takes exactly one parameter without a default "
                            f"(point 6: more makes durable_rules wait for a completion that never comes)")
    entries = rule["all"]
    names = [next(iter(e)) for e in entries]
    has_not = any(n.endswith("$not") for n in names)
    if has_not and entries[0] != {GATE_BINDING: {"kind": GATE_KIND}}:
        raise UnsafeRuleset(f"{where}: a rule with a negation must start with the gate binding (point 2)")
    bound = {}
    first_user = None
    for entry in entries:
        (bname, test), = entry.items()
        refs = _refs(test)
        ref_bindings = {b for b, _ in refs}
        if bname in ref_bindings:
            raise UnsafeRuleset(f"{where}: binding {bname} compares a fact with itself; durable_rules never binds one fact twice")
        for b, key in refs:
            if b not in bound:
                raise UnsafeRuleset(f"{where}: {bname} reads {b}.{key} before {b} is bound")
            if key not in bound[b] and key.removesuffix("__day").removesuffix("__mon") not in bound[b]:
                raise UnsafeRuleset(f"{where}: {bname} reads {b}.{key}, which {b} does not require with $ex "
                                    f"(a missing property aborts the batch with error 311)")
        if refs:
            if not (isinstance(test, dict) and list(test) == ["$and"]):
                raise UnsafeRuleset(f"{where}: join test of {bname} must be a flat $and chain (point 4)")
            chain = test["$and"]
            if len(chain) > MAX_CHAIN_TESTS:
                raise UnsafeRuleset(f"{where}: {len(chain)} tests in one chain; at most {MAX_CHAIN_TESTS}")
            for t in chain:
                if any(k in ("$and", "$or") for k in t):
                    raise UnsafeRuleset(f"{where}: join test of {bname} nests a group; write one flat rule per alternative (point 4)")
            last = chain[-1]
            if not (list(last) == ["sid"] and isinstance(last["sid"], dict) and list(last["sid"].values()) == ["sid"]):
                raise UnsafeRuleset(f"{where}: join test of {bname} must end with the always-true guard sid == <binding>.sid (point 4)")
        elif isinstance(test, dict) and "$and" in test:
            for t in test["$and"]:
                if "$and" in t or ("$or" in t and any(("$and" in o or "$or" in o) for o in t["$or"])):
                    raise UnsafeRuleset(f"{where}: single-fact test of {bname} nests groups more than one level")
        if not bname.endswith("$not"):
            bound[bname] = _guarded_keys(test) | {"sid", "id", "kind"}
            if bname != GATE_BINDING and first_user is None:
                first_user = bname


def alpha_nodes(entries) -> dict[str, set]:
    """The alpha nodes each binding test creates, per fact kind, as (depth, parent, node): one
    per distinct prefix of its test chain (an `$or` counts once per alternative). Identical
    prefixes share a node, so the nodes of a kind form a tree."""
    nodes: dict[str, set] = {}
    for entry in entries:
        (_, test), = entry.items()
        chain = test["$and"] if isinstance(test, dict) and "$and" in test else [test]
        kind = repr(chain[0])
        for k in range(1, len(chain)):
            parent, prefix = repr(chain[:k]), repr(chain[:k + 1])
            alternatives = len(chain[k]["$or"]) if "$or" in chain[k] else 1
            nodes.setdefault(kind, set()).update((k, parent, f"{prefix}#{a}") for a in range(alternatives))
    return nodes


def alpha_stack_bound(nodes: set) -> int:
    """The most entries a depth-first walk of this tree can hold on its stack: at every depth,
    the largest number of children one node pushes."""
    children: dict[tuple, int] = {}
    for depth, parent, _node in nodes:
        children[(depth, parent)] = children.get((depth, parent), 0) + 1
    widest: dict[int, int] = {}
    for (depth, _parent), count in children.items():
        widest[depth] = max(widest.get(depth, 0), count)
    return sum(widest.values())


def check_ruleset(definition: dict) -> None:
    """Raise UnsafeRuleset unless `definition` follows every point of the safe pattern."""
    if SENTINEL not in definition or definition[SENTINEL]["all"] != SENTINEL_TEST:
        raise UnsafeRuleset("ruleset lacks the sentinel rule on the gate fact (point 3)")
    if ABSORBER not in definition or definition[ABSORBER]["all"] != ABSORBER_TEST:
        raise UnsafeRuleset("ruleset lacks the absorber rule (point 5)")
    per_alpha: dict[str, int] = {}
    per_kind: dict[str, set] = {}
    for name, rule in definition.items():
        _check_rule(name, rule)
        if len(rule["all"]) > MAX_RULE_ENTRIES:
            raise UnsafeRuleset(f"rule {name!r}: {len(rule['all'])} bindings and negations; at most {MAX_RULE_ENTRIES}")
        for kind, nodes in alpha_nodes(rule["all"]).items():
            per_kind.setdefault(kind, set()).update(nodes)
        for entry in rule["all"]:
            (_, test), = entry.items()
            first = test["$and"][0] if isinstance(test, dict) and "$and" in test else test
            key = repr(sorted(first.items())) if isinstance(first, dict) else repr(first)
            per_alpha[key] = per_alpha.get(key, 0) + 1
    for kind, nodes in per_kind.items():
        bound = alpha_stack_bound(nodes)
        if bound > MAX_ALPHA_STACK:
            raise UnsafeRuleset(f"alpha network of facts {kind} can hold {bound} stack entries; at most "
                                f"{MAX_ALPHA_STACK} per ruleset, or one fact can overflow the engine's 64-entry "
                                f"stack (error 303)")
    worst = max(per_alpha.items(), key=lambda kv: kv[1], default=("", 0))
    if worst[1] > MAX_RULES_PER_ALPHA:
        raise UnsafeRuleset(f"{worst[1]} rule entries hang off one alpha test {worst[0]}; "
                            f"at most {MAX_RULES_PER_ALPHA} per ruleset (point 8)")
