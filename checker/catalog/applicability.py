"""What a rule applies to.

An alternative applies to the facts of the kind its first binding matches that are of the sort
it is about: an enum field equal to, or one of, given values (a decision of type 'suspend', an
audit of type 'transfer') where every alternative of the rule starting from that kind asks the
same (a value only one alternative asks for, 'recommendation in [...]' beside a decision type,
is what that alternative finds wrong, not what the rule is about), with every date its
conditions read given (a certificate without an expiry date can never be "expired but shown
active"; an audit without a closing meeting's date has no closing meeting to judge). Other
fields are what the check judges (an external name on an auditor's assignment, a flag counted
as audit time) and never narrow what it applies to, nor do derived values (a transition
deadline computed only for a superseded edition is the check's own reasoning). A derived kind's
facts are what a rule over it applies to (certified years), unless they exist only where
something is wrong (a certificate number two clients share): such an alternative has no
population to count, and its rule is never "nothing to apply to" for its sake. Both evaluators count these facts
(engine/applies.py on the engine's flat facts, the reference on its own views); a requirement
whose judged alternatives applied to nothing at all is not_assessed, never conforming.
"""
from __future__ import annotations

from checker.catalog.check_language import Binding, Compare, Exists, Lit, OneOf, SelfRef
from checker.catalog.loader import Rule
from checker.derive import DERIVED_KINDS, REGISTRY, fields_catalog


def _selects(cond, kind: str) -> bool:
    info = fields_catalog()[kind].get(cond.field)
    if info is None or not info.enum:
        return False
    if isinstance(cond, Compare):
        return cond.op == "==" and isinstance(cond.rhs, Lit) and cond.offset is None
    return isinstance(cond, OneOf) and not cond.negate and not cond.missing_ok


def _dates_needed(cond, kind: str) -> list[str]:
    """The date fields of the fact a condition cannot hold without."""
    if isinstance(cond, Exists):
        fields = [cond.field] if cond.present else []
    elif isinstance(cond, OneOf):
        fields = [] if cond.missing_ok else [cond.field]
    else:
        fields = [cond.field] + ([cond.rhs.field] if isinstance(cond.rhs, SelfRef) else [])
    catalog = fields_catalog()[kind]
    return [f for f in fields if f in catalog and catalog[f].kind == "date" and f"{kind}.{f}" not in REGISTRY]


def applicability(rule: Rule) -> dict[int, Binding | None]:
    """Per alternative, the binding that finds what it applies to: its first binding's kind with
    the sort-selecting conditions every alternative from that kind shares, and a `present`
    test of every record date its conditions need; None for a derived kind that is no
    population (see above)."""
    firsts = [c.bindings[0] for c in rule.checks]
    out = {}
    for alt, first in enumerate(firsts):
        if first.kind in DERIVED_KINDS and not DERIVED_KINDS[first.kind].population:
            out[alt] = None
            continue
        same_kind = [b for b in firsts if b.kind == first.kind]
        shared = set.intersection(*({c.source for c in b.conditions if _selects(c, b.kind)} for b in same_kind))
        selects = [c for c in first.conditions if c.source in shared]
        dates = dict.fromkeys(f for c in first.conditions for f in _dates_needed(c, first.kind))
        out[alt] = Binding(first.name, first.kind, selects + [Exists(f, True, f"present({f})") for f in dates])
    return out


def applies_text(binding: Binding | None) -> str:
    """What an alternative applies to, in words: "decision with decision_type == 'suspend', having date"."""
    if binding is None:
        return "the input as a whole (the facts it reads exist only where something is wrong)"
    selects = [c.source for c in binding.conditions if not isinstance(c, Exists)]
    dates = [c.field for c in binding.conditions if isinstance(c, Exists)]
    having = ", ".join(dates[:-1]) + " and " + dates[-1] if len(dates) > 1 else "".join(dates)
    return binding.kind + (" with " + " and ".join(selects) if selects else "") + (
        (", having " if selects else " having ") + having if dates else "")


# One applicability binding and the (rule id, alternative) pairs it stands for: the many
# alternatives of one rule over one kind of record share theirs, and are counted once.
Group = tuple[Binding, list[tuple[str, int]]]


def applicability_groups(rules: list[Rule], rule_scopes) -> list[Group]:
    """What every alternative the evaluators run of the rules of `rule_scopes` applies to,
    grouped by identical applicability, in a fixed order: both evaluators count the facts of
    each group in this order, and the partition driver reads their counts back by it."""
    groups: dict[tuple, Group] = {}
    for rule in rules:
        if rule.automated and rule.scope in rule_scopes:
            applies = applicability(rule)
            for alt, _check in rule.judged_checks():
                binding = applies[alt]
                if binding is None:
                    continue
                key = (binding.kind, tuple(c.source for c in binding.conditions))
                groups.setdefault(key, (binding, []))[1].append((rule.id, alt))
    return list(groups.values())
