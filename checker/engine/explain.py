"""Explaining evaluation: the reference evaluator's judgement of one check, recorded condition
by condition, for `cbcheck explain` and the report's "why" of each finding.

It adds no semantics of its own: whether a condition holds is always reference._holds's
verdict, values are read with reference.get, month offsets with reference._add_months, and the
two values a comparison shows must give that verdict under reference._compare (else
ExplanationMismatch). What it adds is the record of what was compared: each binding's record
with the values its conditions read, and for each `absent` clause every candidate fact with
the conditions it met and failed.

It explains only what the engine, the evaluator of record, produced: `explain_finding` looks
up the reference match whose finding is the engine's finding (same fingerprint, message,
location and related records) and raises ExplanationMismatch when there is none, or when the
explanation built does not bear the finding out (`verify`). `explain_pass` explains why a
partition has no finding of a rule, and raises the same when it finds a match the engine did
not report.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re

from checker.catalog.check_language import AsOf, Check, Compare, Exists, OneOf, Ref, SelfRef
from checker.derive import DERIVED_KINDS, derive, derive_cb_wide, derived_entry, fields_catalog
from checker.engine.findings import make_finding, separate_fingerprints
from checker.engine.partition import CB_PARTITION, build_partitions
from checker.engine.reference import MISSING, View, _add_months, _compare, _holds, evaluate, get, views_of

# The keys make_finding gives a finding; later stages (waivers, baseline, explanations) add others.
FINDING_KEYS = ("rule_id", "standard", "clause", "severity", "title", "variant", "client", "record_id",
                "record_type", "file", "line", "pointer", "message", "remediation", "related", "fingerprint")


class ExplanationMismatch(RuntimeError):
    """The explaining evaluation disagrees with the engine: a bug in one of the evaluators,
    never something to paper over with an invented explanation."""


def _shown(value, kind: str = "") -> str:
    if value is MISSING or value is None:
        return "(missing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and kind != "date":
        return "'" + value + "'"
    return str(value)


def _month_day(target: tuple[int, int, int]) -> str:
    """A month offset's target day; a day the month lacks is said as such (it sorts after the
    month's last day and before the next month's first)."""
    year, month, day = target
    last = calendar.monthrange(year, month)[1]
    if day <= last:
        return f"{year:04d}-{month:02d}-{day:02d}"
    return f"{year:04d}-{month:02d}-{day:02d} (no such day: after {year:04d}-{month:02d}-{last:02d})"


def _relation(lhs, rhs) -> str:
    return "<" if lhs < rhs else (">" if lhs > rhs else "==")


class Explainer:
    """Explanations over one run's records: partitions are derived once each, on demand."""

    def __init__(self, index, rules, params: dict, as_of: dt.date):
        self.index, self.params, self.as_of = index, params, as_of
        self.rules = {r.id: r for r in rules}
        self._partitions = {p.sid: p for p in build_partitions(index)}
        self._views: dict[str, list[View]] = {}
        self._where: dict[str, dict] = {}      # per partition: fact id -> (record id, pointer)

    # -- partitions -------------------------------------------------------------------------
    def views(self, sid: str) -> list[View]:
        """The partition's facts as the reference evaluator reads them (derived values included)."""
        if sid not in self._views:
            part = self._partitions[sid]
            records = [self.index.by_id[rid].data for rid in part.record_ids]
            if sid == CB_PARTITION:
                records += derive_cb_wide([r.data for r in self.index.by_id.values()], self.params)
            enriched, pseudo = derive(records, self.params, self.as_of.year)
            self._views[sid] = views_of(enriched + pseudo)
            self._where[sid] = {v.id: (v.record_id, v.pointer) for v in self._views[sid]}
        return self._views[sid]

    # -- one finding ------------------------------------------------------------------------
    def explain_finding(self, finding: dict) -> dict:
        """The explanation of a finding the engine produced, or ExplanationMismatch."""
        rule = self.rules[finding["rule_id"]]
        sid = finding["client"] if finding["client"] is not None else CB_PARTITION
        views = self.views(sid)
        by_id = {v.id: v for v in views}
        matches = [(alt, check, bindings) for alt, check in enumerate(rule.checks)
                   for bindings in evaluate(check, views, self.as_of)]
        found = [(alt, self._finding(rule, alt, bindings, by_id, self._where[sid], finding["client"]))
                 for alt, _check, bindings in matches]
        separate_fingerprints(found)     # as the driver does (fingerprints differ only within a rule)
        for (alt, check, bindings), (_alt, mine) in zip(matches, found):
            if mine["fingerprint"] == finding["fingerprint"]:
                differ = [k for k in FINDING_KEYS if mine[k] != finding[k]]
                if differ:
                    raise ExplanationMismatch(f"finding {finding['fingerprint']} of {rule.id}: the reference "
                                              f"evaluator's match differs from the engine's in {', '.join(differ)}")
                explanation = self._explain_match(check, alt, bindings, by_id, views, mine)
                verify(explanation, finding)
                return explanation
        raise ExplanationMismatch(f"finding {finding['fingerprint']} of {rule.id} for "
                                  f"{finding['client'] or 'the CB as a whole'}: the reference evaluator finds no "
                                  f"match with that fingerprint, so it cannot be explained")

    def _finding(self, rule, alt, bindings, by_id, where, client) -> dict:
        """The finding make_finding gives this match, as the engine path would."""
        def value_of(binding, dotted):
            value = get(by_id[bindings[binding]], dotted)
            return None if value is MISSING else value
        return make_finding(rule, alt, bindings, where, value_of, self.index.by_id, client, self.params,
                            self.as_of.isoformat())

    def _explain_match(self, check: Check, alt: int, bindings: dict, by_id: dict, views: list[View],
                       finding: dict) -> dict:
        env = {name: by_id[fid] for name, fid in bindings.items()}
        needed = check.required_fields()     # fields later clauses read from each binding
        bound = [(b.name, env[b.name]) for b in check.bindings]
        return {
            "fingerprint": finding["fingerprint"], "alternative": alt + 1, "variant": check.label or None,
            "message": finding["message"],
            "record": {"record_id": finding["record_id"], "record_type": finding["record_type"],
                       "file": finding["file"], "line": finding["line"], "pointer": finding["pointer"]},
            "bindings": [{"binding": b.name, **self.fact_ref(env[b.name]),
                          "conditions": [self.condition(c, env[b.name], env) for c in b.conditions],
                          "reads": {f: _plain(get(env[b.name], f)) for f in sorted(needed[b.name])}}
                         for b in check.bindings],
            "absent": [self._absent(i, clause, env, bound, views) for i, clause in enumerate(check.absent)],
        }

    def _absent(self, i: int, clause, env: dict, bound: list, views: list[View]) -> dict:
        bound_ids = {id(v) for _n, v in bound}
        candidates = [{**self.fact_ref(v), "conditions": [self.condition(c, v, env) for c in clause.conditions]}
                      for v in views if v.kind == clause.kind and id(v) not in bound_ids]
        for cand in candidates:
            cand["satisfies"] = all(c["holds"] for c in cand["conditions"])
        return {"clause": i + 1, "kind": clause.kind, "where": [c.source for c in clause.conditions],
                "excluded": [{"binding": name, **self.fact_ref(v)} for name, v in bound if v.kind == clause.kind],
                "candidates": candidates}

    # -- records and conditions -------------------------------------------------------------
    def fact_ref(self, view: View) -> dict:
        rec = self.index.by_id[view.record_id]
        pointer = rec.root + view.pointer
        derived = DERIVED_KINDS.get(view.kind)
        return {"fact": view.id, "kind": view.kind, "record_id": view.record_id, "record_type": rec.type,
                "file": rec.file, "line": rec.line_of(view.pointer), "pointer": pointer,
                "derived": derived.meaning if derived else None}

    def condition(self, cond, view: View, env: dict) -> dict:
        """One condition on one fact: the reference's verdict and what it compared, in words."""
        holds = _holds(cond, view, env, self.as_of)
        value = get(view, cond.field)
        kind = fields_catalog()[view.kind][cond.field].kind
        left = None if value is MISSING else value
        right, text = None, ""
        if isinstance(cond, Exists):
            text = f"{cond.field} is missing" if value is MISSING else f"{cond.field} is {_shown(value, kind)}"
        elif isinstance(cond, OneOf):
            listed = "[" + ", ".join(_shown(v) for v in cond.values) + "]"
            right = list(cond.values)
            if value is MISSING:
                text = f"{cond.field} is missing" + (" (counts as none of them)" if cond.missing_ok
                                                      else " (a test on a missing field is false)")
            else:
                member = value in cond.values
                text = f"{cond.field} {_shown(value, kind)} {'in' if member else 'not in'} {listed}"
        else:
            right, text = self._compare_text(cond, view, env, value, kind)
        out = {"condition": cond.source, "holds": holds, "left": _plain(left), "right": _plain(right), "text": text}
        derived = self._derived(view, cond, env)
        if derived:
            out["derived"] = derived
        return out

    def _compare_text(self, cond: Compare, view: View, env: dict, value, kind: str):
        """(right side as compared, the comparison in words with both values)."""
        if value is MISSING:
            return None, f"{cond.field} is missing (a test on a missing field is false)"
        rhs, what = self._rhs(cond, view, env)
        if rhs is MISSING:
            return None, f"{what} is missing (a comparison with a missing value is false)"
        if cond.offset is not None:
            amount = cond.offset.amount
            unit = {"days": " days", "months": " months", "number": ""}[cond.offset.unit]
            detail = f" ({what} {_shown(rhs, kind)} {'+' if amount >= 0 else '-'} {_shown(abs(amount))}{unit})"
        else:
            detail = f" ({what})" if what else ""
        lhs_key, rhs_key, right = self._operands(cond, value, rhs, kind)
        shown = right if kind == "date" else _shown(right, kind)
        holds = _holds(cond, view, env, self.as_of)
        if _compare(lhs_key, cond.op, rhs_key) != holds:     # the words must say what was judged
            raise ExplanationMismatch(f"`{cond.source}` on {view.id}: the values shown ({value}, {shown}) do not "
                                      f"give the reference evaluator's verdict ({holds})")
        if holds:
            return right, f"{cond.field} {_shown(value, kind)} {cond.op} {shown}{detail}"
        if cond.op in ("==", "!="):
            return right, f"{cond.field} {_shown(value, kind)} {'!=' if cond.op == '==' else '=='} {shown}{detail}"
        actual = _relation(lhs_key, rhs_key)
        return right, f"{cond.field} {_shown(value, kind)} {actual} {shown}{detail}, not {cond.op}"

    def _rhs(self, cond: Compare, view: View, env: dict):
        """(value, how it was obtained in words) of a comparison's right-hand side."""
        if isinstance(cond.rhs, Ref):
            return get(env[cond.rhs.binding], cond.rhs.field), f"{cond.rhs.binding}.{cond.rhs.field}"
        if isinstance(cond.rhs, SelfRef):
            return get(view, cond.rhs.field), f"self.{cond.rhs.field}"
        if isinstance(cond.rhs, AsOf):
            return self.as_of.isoformat(), "as of"
        params = re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", cond.source.partition(cond.op)[2])
        named = [p for p in params if p != "as_of" and self.params.get(p) == cond.rhs.value]
        return cond.rhs.value, (f"${named[0]}" if named else "")

    def _operands(self, cond: Compare, value, rhs, kind: str):
        """The two sides as the reference compares them, and the right side as JSON carries it."""
        if kind != "date":
            target = rhs + cond.offset.amount if cond.offset is not None else rhs
            return value, target, target
        lhs_d, rhs_d = dt.date.fromisoformat(value), dt.date.fromisoformat(rhs)
        if cond.offset is None:
            return lhs_d, rhs_d, rhs_d.isoformat()
        if cond.offset.unit == "days":
            target = rhs_d + dt.timedelta(days=int(cond.offset.amount))
            return lhs_d, target, target.isoformat()
        target = _add_months(rhs_d, int(cond.offset.amount))
        return (lhs_d.year, lhs_d.month, lhs_d.day), target, _month_day(target)

    def _derived(self, view: View, cond, env: dict) -> list[dict]:
        """How each derived field the condition reads was computed (its registry entry's meaning
        and parameters), with the values of the fields of the same fact that meaning names."""
        read = [(view, cond.field)]
        rhs = getattr(cond, "rhs", None)
        if isinstance(rhs, SelfRef):
            read.append((view, rhs.field))
        elif isinstance(rhs, Ref):
            read.append((env[rhs.binding], rhs.field))
        out, seen = [], set()
        while read:      # a derived input that is itself derived is explained too
            fact, name = read.pop(0)
            entry = derived_entry(fact.kind, name) if fact.kind not in DERIVED_KINDS else None
            if entry is None or (fact.id, name) in seen:
                continue
            seen.add((fact.id, name))
            inputs = _named_inputs(fact.kind, name, entry.meaning)
            out.append({"field": name, "fact": fact.id, "meaning": entry.meaning,
                        "parameters": list(entry.parameters), "inputs": {f: _plain(get(fact, f)) for f in inputs}})
            read += [(fact, f) for f in inputs]
        return out

    # -- no finding -------------------------------------------------------------------------
    def explain_pass(self, rule, sid: str) -> list[dict]:
        """Why `rule` found nothing in partition `sid`: per alternative, every candidate of each
        binding with the condition it failed, and for each full match the absent-clause record
        that blocked it, over the alternatives the run judged (`rule` as judged_rules gives it).
        A full match that nothing blocks is a finding the engine did not report:
        ExplanationMismatch."""
        views = self.views(sid)
        return [{"alternative": alt + 1, "variant": check.label or None,
                 "search": self._trace(check, views, 0, {}, rule.id)}
                for alt, check in rule.judged_checks()]

    def _trace(self, check: Check, views: list[View], i: int, env: dict, rule_id: str) -> list[dict]:
        b = check.bindings[i]
        needed = check.required_fields()[b.name]
        nodes = []
        for view in (v for v in views if v.kind == b.kind):
            node = {"binding": b.name, **self.fact_ref(view)}
            nodes.append(node)
            taken = [name for name, other in env.items() if other is view]
            lacking = [f for f in sorted(needed) if get(view, f) is MISSING]
            if taken or lacking:
                node["outcome"] = "skipped"
                node["reason"] = (f"already bound as {taken[0]} (one fact never fills two bindings)" if taken else
                                  f"has no {', '.join(lacking)}, which a later test reads")
                continue
            node["conditions"] = [self.condition(c, view, env) for c in b.conditions]
            if not all(c["holds"] for c in node["conditions"]):
                node["outcome"] = "failed"
                continue
            node["outcome"] = "matched"
            env[b.name] = view
            if i + 1 < len(check.bindings):
                node["then"] = self._trace(check, views, i + 1, env, rule_id)
            else:
                node["absent"] = [self._absent(k, clause, env, [(n, v) for n, v in env.items()], views)
                                  for k, clause in enumerate(check.absent)]
                if not any(c["satisfies"] for clause in node["absent"] for c in clause["candidates"]):
                    del env[b.name]
                    raise ExplanationMismatch(f"{rule_id}: the reference evaluator matches {b.name} = {view.id} "
                                              f"with nothing to block it, but the engine reported no such finding")
            del env[b.name]
        return nodes


def _named_inputs(kind: str, name: str, meaning: str) -> list[str]:
    """The fields of `kind` a derived value's meaning names: in full, or a sibling of a nested
    value by its last part (`table1_days` beside `audit_time.deviation_percent`)."""
    prefix = name.rpartition(".")[0]
    found = []
    for other in sorted(fields_catalog()[kind]):
        if other == name or other.endswith((".year", ".count")):
            continue
        spellings = [other] + ([other.rpartition(".")[2]] if prefix and other.startswith(prefix + ".") else [])
        if any(re.search(rf"(?<![\w.]){re.escape(s)}(?!\w)", meaning) for s in spellings):
            found.append(other)
    return found


def _plain(value):
    """A value as JSON carries it (dates are already ISO text; a tuple target becomes text)."""
    if value is MISSING:
        return None
    if isinstance(value, tuple):
        return _month_day(value)
    return value


def verify(explanation: dict, finding: dict) -> None:
    """The explanation bears the engine's finding out: the same record and related records,
    every binding condition holding, no absent clause satisfied by any candidate. Anything else
    is ExplanationMismatch."""
    problems = []
    if explanation["fingerprint"] != finding["fingerprint"]:
        problems.append("another fingerprint")
    record = explanation["record"]
    if any(record[k] != finding[k] for k in ("record_id", "record_type", "file", "line", "pointer")):
        problems.append("another record")
    mine = sorted((b["binding"], b["record_id"], b["record_type"], b["file"], b["line"], b["pointer"])
                  for b in explanation["bindings"])
    engine = sorted((r["binding"], r["record_id"], r["record_type"], r["file"], r["line"], r["pointer"])
                    for r in finding["related"])
    if mine != engine:
        problems.append(f"matched records {[m[:2] for m in mine]} where the engine matched {[e[:2] for e in engine]}")
    for b in explanation["bindings"]:
        problems += [f"{b['binding']}: `{c['condition']}` does not hold" for c in b["conditions"] if not c["holds"]]
    for clause in explanation["absent"]:
        problems += [f"absent clause {clause['clause']} is satisfied by {c['fact']}"
                     for c in clause["candidates"] if c["satisfies"]]
    if problems:
        raise ExplanationMismatch(f"explanation of finding {finding['fingerprint']} ({finding['rule_id']}) disagrees "
                                  f"with the engine's finding: " + "; ".join(problems))
