"""Waivers: signed-off, dated decisions to accept a known finding for a while.

A waiver file (`--waivers FILE`) is one YAML list; each entry waives the findings it matches:

    - rule: CRT001                  # required: rule id from the catalog
      client: cl00007               # optional: only this client's findings
      record: cl00007-cert2         # optional: only findings on this record id
      fingerprint: 86b605ccdeb7ea23 # optional: only this one finding (the report's fingerprint)
      justification: Reissue agreed with the client; the old certificate is withdrawn on 2026-02-01.
      approver: J. Smith, Quality Manager   # required
      expires: 2026-03-31           # required, YYYY-MM-DD; the waiver holds through that day

A finding is matched when its rule is the waiver's and every optional key given is equal.
A waived finding stays in the report (it is still a gap an assessor must see) with `waived:
true` and the waiver that covers it, but no exit code counts it. An expired waiver no longer
waives anything: its findings are active again and carry `waiver_expired`, so the nightly
run fails until someone renews or removes it. When several unexpired waivers match one
finding, the one expiring last covers it (the first in the file on a tie). Every waiver ends
up in exactly one place of the report's `waivers` block: applied, expired or unmatched, so a
stale waiver is shown, never silently kept.
"""
from __future__ import annotations

import copy
import datetime as dt
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from checker.errors import Problem, sort_problems
from checker.records.located import load_yaml_documents

REQUIRED = ("rule", "justification", "approver", "expires")
OPTIONAL = ("client", "record", "fingerprint")
KEYS = REQUIRED + OPTIONAL
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
EXAMPLE = ("a list of entries like {rule: CRT001, client: cl00007, justification: ..., approver: ..., "
           "expires: 2026-03-31}")


@dataclass(frozen=True)
class Waiver:
    rule: str
    justification: str
    approver: str
    expires: str
    client: str | None = None
    record: str | None = None
    fingerprint: str | None = None
    file: str = ""
    line: int | None = None

    def matches(self, finding: dict) -> bool:
        return (finding["rule_id"] == self.rule
                and (self.client is None or finding["client"] == self.client)
                and (self.record is None or finding["record_id"] == self.record)
                and (self.fingerprint is None or finding["fingerprint"] == self.fingerprint))

    def expired(self, as_of: str) -> bool:
        # ISO dates compare as strings; the waiver still holds on its expiry day.
        return self.expires < as_of

    def reference(self) -> dict:
        """What a finding carries about the waiver that covers (or no longer covers) it."""
        return {"justification": self.justification, "approver": self.approver, "expires": self.expires,
                "file": self.file, "line": self.line}

    def entry(self, findings: int) -> dict:
        """How the report's `waivers` block lists an expired or unmatched waiver."""
        return {"rule": self.rule, "client": self.client, "record": self.record, "fingerprint": self.fingerprint,
                "approver": self.approver, "expires": self.expires, "file": self.file, "line": self.line,
                "findings": findings}


def _valid_date(text: str) -> bool:
    if not DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_entry(item, i: int, doc, file: str, rule_ids) -> tuple[Waiver | None, list[Problem]]:
    here = f"/{i}"
    if not isinstance(item, dict):
        return None, [Problem(file, doc.line_of(here), here, f"a waiver must be a mapping, not {type(item).__name__}",
                              "keys " + ", ".join(KEYS))]
    problems = []
    for key in sorted(set(item) - set(KEYS), key=str):
        suggestion = difflib.get_close_matches(str(key), KEYS, n=1)
        problems.append(Problem(file, doc.line_of(f"{here}/{key}"), f"{here}/{key}", f"unknown key {key!r}"
                                + (f" (did you mean {suggestion[0]!r}?)" if suggestion else ""),
                                "only " + ", ".join(KEYS)))
    for key in REQUIRED:
        if key not in item:
            problems.append(Problem(file, doc.line_of(here), here, f"missing {key!r}",
                                    "every waiver names rule, justification, approver and expires"))
    for key in KEYS:
        if key not in item:
            continue
        value, at = item[key], f"{here}/{key}"
        if not isinstance(value, str) or not value.strip():
            # An unquoted 2026-03-31 stays a string (timestamps are off); a number or null does not.
            problems.append(Problem(file, doc.line_of(at), at, f"{key!r} must be non-empty text, got {value!r}",
                                    "YYYY-MM-DD" if key == "expires" else "text"))
        elif key == "expires" and not _valid_date(value):
            problems.append(Problem(file, doc.line_of(at), at, f"'expires' is not a date: {value!r}",
                                    "a real calendar date as YYYY-MM-DD"))
        elif key == "fingerprint" and not FINGERPRINT.match(value):
            problems.append(Problem(file, doc.line_of(at), at, f"not a finding fingerprint: {value!r}",
                                    "16 lowercase hex digits, copied from the report's fingerprint"))
        elif key == "rule" and rule_ids is not None and value not in rule_ids:
            suggestion = difflib.get_close_matches(value.upper(), sorted(rule_ids), n=1)
            problems.append(Problem(file, doc.line_of(at), at, f"no rule {value!r} in the catalog"
                                    + (f" (did you mean {suggestion[0]!r}?)" if suggestion else ""),
                                    "a rule id listed by `cbcheck rules list`"))
    if problems:
        return None, problems
    return Waiver(rule=item["rule"], justification=item["justification"].strip(), approver=item["approver"].strip(),
                  expires=item["expires"], client=item.get("client"), record=item.get("record"),
                  fingerprint=item.get("fingerprint"), file=file, line=doc.line_of(here)), []


def load_waivers(path, rule_ids=None) -> tuple[list[Waiver], list[Problem]]:
    """Every waiver of the file, in file order, and every problem with it (all entries are
    checked; any problem means the caller should stop with exit 2, since a half-read waiver
    file would fail or pass findings nobody decided on). `rule_ids`: the catalog's rule ids,
    to reject waivers for rules that do not exist (None skips that check)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return [], [Problem(file, None, "", f"cannot read the waiver file: {exc.strerror or exc}",
                            "a readable YAML file given with --waivers")]
    except UnicodeDecodeError as exc:
        return [], [Problem(file, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                            "a YAML file saved as UTF-8")]
    docs, problems = load_yaml_documents(text, file)
    if problems:
        return [], sort_problems(problems)
    if len(docs) > 1:
        return [], [Problem(file, docs[1].first_line, "", f"{len(docs)} YAML documents", "one list of waivers")]
    if not docs or docs[0].data is None:
        return [], []   # an empty file: every waiver was removed, which is a legitimate state
    doc = docs[0]
    if not isinstance(doc.data, list):
        return [], [Problem(file, doc.first_line, "", f"the file holds a {type(doc.data).__name__}, not a list", EXAMPLE)]
    waivers = []
    for i, item in enumerate(doc.data):
        waiver, errs = _check_entry(item, i, doc, file, rule_ids)
        problems += errs
        if waiver:
            waivers.append(waiver)
    return (waivers if not problems else []), sort_problems(problems)


def apply_waivers(report: dict, waivers: list[Waiver], as_of: str) -> dict:
    """A new report with every finding marked waived or not, each requirement's waived_count,
    summary.waived and the `waivers` block. `as_of` is the day the waivers are judged on
    (the report's as_of, so a re-run for a past date judges as that day did)."""
    if not _valid_date(as_of):
        raise ValueError(f"as_of must be YYYY-MM-DD, got {as_of!r}")
    out = copy.deepcopy(report)
    by_rule: dict[str, list[tuple[int, Waiver]]] = {}
    for n, w in enumerate(waivers):
        by_rule.setdefault(w.rule, []).append((n, w))
    matched = [0] * len(waivers)
    for finding in out["findings"]:
        hits = [(n, w) for n, w in by_rule.get(finding["rule_id"], []) if w.matches(finding)]
        for n, _w in hits:
            matched[n] += 1
        active = [(n, w) for n, w in hits if not w.expired(as_of)]
        finding.pop("waiver", None)
        finding.pop("waiver_expired", None)
        finding["waived"] = bool(active)
        if active:
            _n, cover = max(active, key=lambda nw: (nw[1].expires, -nw[0]))
            finding["waiver"] = cover.reference()
        elif hits:
            _n, last = max(hits, key=lambda nw: (nw[1].expires, -nw[0]))
            finding["waiver_expired"] = last.reference()
    waived_by_rule: dict[str, int] = {}
    for finding in out["findings"]:
        if finding["waived"]:
            waived_by_rule[finding["rule_id"]] = waived_by_rule.get(finding["rule_id"], 0) + 1
    for req in out["requirements"]:
        req["waived_count"] = waived_by_rule.get(req["id"], 0)
    out["summary"]["waived"] = sum(waived_by_rule.values())
    out["waivers"] = {
        "total": len(waivers),
        "applied": sum(1 for n, w in enumerate(waivers) if matched[n] and not w.expired(as_of)),
        "expired": [w.entry(matched[n]) for n, w in enumerate(waivers) if w.expired(as_of)],
        "unmatched": [w.entry(0) for n, w in enumerate(waivers) if not matched[n] and not w.expired(as_of)],
    }
    return out
