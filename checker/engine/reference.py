"""The reference evaluator: the same check IR judged in plain Python, without durable_rules.

It shares only the parser, the derived facts and the partition driver with the engine path. It reads the enriched
records directly (its own traversal, not the engine's flattened facts) and compares dates as
calendar dates (not the engine's day numbers and month slots), so the differential test
compares two independent implementations of every construct.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from checker.catalog.check_language import AsOf, Binding, Check, Compare, Exists, OneOf, Ref, SelfRef
from checker.catalog.applicability import applicability_groups
from checker.derive import derive, fields_catalog
from checker.engine.driver import Evaluation, Task, Verdict, drive, shared_records
from checker.engine.partition import RULE_SCOPES

MISSING = object()


@dataclass
class View:
    kind: str
    id: str
    data: dict
    record_id: str        # the record a finding on this view names
    pointer: str          # where inside that record


def views_of(records: list[dict]) -> list[View]:
    out = []
    for rec in records:
        out.append(View(rec["type"], rec["id"], rec, rec.get("_source", rec["id"]), ""))
        _children(rec, rec["type"], rec["id"], rec["id"], "", "", out)
    return out


def _children(data: dict, kind: str, record_id: str, id_prefix: str, prefix: str, pointer: str, out: list):
    for key, value in data.items():
        if key.startswith(("x-", "_")):
            continue
        if isinstance(value, dict):
            _children(value, kind, record_id, id_prefix, f"{prefix}{key}.", f"{pointer}/{key}", out)
        elif isinstance(value, list):
            path = f"{prefix}{key}"
            for i, item in enumerate(value):
                child_id = f"{id_prefix}#{path}#{i}"
                child_pointer = f"{pointer}/{key}/{i}"
                body = dict(item) if isinstance(item, dict) else {"value": item}
                body.update(parent=record_id, index=i)
                out.append(View(f"{kind}.{path}", child_id, body, record_id, child_pointer))
                if isinstance(item, dict):
                    _children(item, f"{kind}.{path}", record_id, child_id, "", child_pointer, out)


def get(view: View, dotted: str):
    if dotted == "id":
        return view.id
    info = fields_catalog()[view.kind].get(dotted)
    parts = dotted.split(".")
    if info is not None and parts[-1] in ("count", "year") and len(parts) > 1:
        base = _walk(view.data, parts[:-1])
        if parts[-1] == "count":
            return len(base) if isinstance(base, list) else MISSING
        return dt.date.fromisoformat(base).year if isinstance(base, str) and base else MISSING
    value = _walk(view.data, parts)
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, (dict, list)):
        return MISSING
    return value


def _walk(data, parts):
    for p in parts:
        if not isinstance(data, dict) or p not in data:
            return MISSING
        data = data[p]
    return data


def _add_months(day: dt.date, months: int):
    """(year, month, day) n months on, as a tuple: a day the month lacks sorts after its last day."""
    total = day.year * 12 + day.month - 1 + months
    return (total // 12, total % 12 + 1, day.day)


def _as_tuple(day: dt.date):
    return (day.year, day.month, day.day)


def _compare(lhs, op, rhs) -> bool:
    return {"==": lhs == rhs, "!=": lhs != rhs, "<": lhs < rhs, "<=": lhs <= rhs,
            ">": lhs > rhs, ">=": lhs >= rhs}[op]


def _holds(cond, view: View, env: dict[str, View], as_of: dt.date) -> bool:
    if isinstance(cond, Exists):
        return (get(view, cond.field) is not MISSING) == cond.present
    value = get(view, cond.field)
    if isinstance(cond, OneOf) and cond.missing_ok:
        return value is MISSING or value not in cond.values
    if value is MISSING:
        return False
    if isinstance(cond, OneOf):
        return (value in cond.values) != cond.negate
    assert isinstance(cond, Compare)
    is_date = fields_catalog()[view.kind][cond.field].kind == "date"
    if isinstance(cond.rhs, (Ref, SelfRef)):
        rhs = get(view if isinstance(cond.rhs, SelfRef) else env[cond.rhs.binding], cond.rhs.field)
        if rhs is MISSING:
            return False
    elif isinstance(cond.rhs, AsOf):
        rhs = as_of.isoformat()
    else:
        rhs = cond.rhs.value
    if is_date:
        lhs_d, rhs_d = dt.date.fromisoformat(value), dt.date.fromisoformat(rhs)
        if cond.offset is None:
            return _compare(lhs_d, cond.op, rhs_d)
        if cond.offset.unit == "days":
            return _compare(lhs_d, cond.op, rhs_d + dt.timedelta(days=int(cond.offset.amount)))
        return _compare(_as_tuple(lhs_d), cond.op, _add_months(rhs_d, int(cond.offset.amount)))
    if cond.offset is not None:
        rhs = rhs + cond.offset.amount
    return _compare(value, cond.op, rhs)


def evaluate(check: Check, views: list[View], as_of: dt.date) -> list[dict[str, str]]:
    """Every combination of bindings that satisfies the check, as {binding: fact id}."""
    by_kind: dict[str, list[View]] = {}
    for v in views:
        by_kind.setdefault(v.kind, []).append(v)
    needed = check.required_fields()
    results = []

    def search(i: int, env: dict[str, View]):
        if i == len(check.bindings):
            bound = {id(v) for v in env.values()}
            for clause in check.absent:
                # A fact bound in the match never satisfies an absent clause (as in the engine,
                # where a negation is one more binding and one fact never fills two).
                if any(id(v) not in bound and all(_holds(c, v, env, as_of) for c in clause.conditions)
                       for v in by_kind.get(clause.kind, [])):
                    return
            results.append({name: view.id for name, view in env.items()})
            return
        b = check.bindings[i]
        for view in by_kind.get(b.kind, []):
            if any(view is other for other in env.values()):
                continue  # one fact never fills two bindings (as in the engine)
            if any(get(view, f) is MISSING for f in needed[b.name]):
                continue
            if all(_holds(c, view, env, as_of) for c in b.conditions):
                env[b.name] = view
                search(i + 1, env)
                del env[b.name]

    search(0, {})
    return results


def _applies(binding: Binding, views: list[View], as_of: dt.date) -> int:
    """How many of `views` an alternative applies to (checker/catalog/applicability.py):
    the facts its applicability binding alone matches."""
    return len(evaluate(Check([binding], [], binding.name, ""), views, as_of))


@dataclass
class ReferenceVerdict(Verdict):
    views: dict = field(default_factory=dict)     # fact id -> View

    def value(self, fact_id: str, dotted: str):
        value = get(self.views[fact_id], dotted)
        return None if value is MISSING else value


@dataclass
class ReferenceJudge:
    """Judges a partition in plain Python: derive, then every rule of the partition's scopes
    over the views of its records."""
    rules: list
    params: dict
    as_of: dt.date
    shared: dict[str, dict] = field(default_factory=dict)    # CB-wide records by id (driver.shared_records)

    def __post_init__(self):
        self.applies = {scope: applicability_groups(self.rules, rule_scopes) for scope, rule_scopes in RULE_SCOPES.items()}

    def start(self):
        return None

    def judge(self, _state, task: Task) -> Verdict:
        # Derived over every record of the partition, shared ones included (the engine skips
        # them): the differential test then holds that derive() leaves them alone.
        records = task.records + [self.shared[rid] for rid in task.shared]
        enriched, pseudo = derive(records, self.params, self.as_of.year)
        views = views_of(enriched + pseudo)
        matches = [(rule.id, alt, bindings)
                   for rule in self.rules if rule.automated and rule.scope in RULE_SCOPES[task.scope]
                   for alt, check in rule.judged_checks()
                   for bindings in evaluate(check, views, self.as_of)]
        shared = set(task.shared)
        own = [v for v in views if v.record_id not in shared]
        applied = tuple(_applies(binding, own, self.as_of) for binding, _alternatives in self.applies[task.scope])
        return ReferenceVerdict(task.sid, True, matches, {v.id: (v.record_id, v.pointer) for v in views},
                                fact_count=len(views), applied=applied, views={v.id: v for v in views})


def reference_evaluation(index, rules, params: dict, as_of: dt.date) -> Evaluation:
    """The evaluation of `rules` over every partition, judged without durable_rules."""
    return drive(index, rules, params, as_of, ReferenceJudge(rules, params, as_of, shared_records(index)))


def reference_findings(index, rules, params: dict, as_of: dt.date) -> list[dict]:
    """Findings of `rules` over every partition, judged without durable_rules: one per
    alternative and combination of facts. The differential test compares this list, messages
    and locations included, with the engine's (and what each alternative applied to)."""
    return reference_evaluation(index, rules, params, as_of).findings
