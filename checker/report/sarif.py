"""SARIF 2.1.0 rendering, for code-scanning dashboards (GitHub code scanning among them).

One run; one rule (reportingDescriptor) per requirement of the report, one result per
finding. Locations are relative to the input folder (uriBaseId INPUTROOT); the log holds no
absolute path and no URL but the $schema id GitHub requires, so it is the same on every machine.

Choices a reader of the log should know:
- partialFingerprints carries the report's fingerprint twice: as "cbcheck/v1" (ours) and as
  "primaryLocationLineHash", the only key GitHub reads. Without the latter GitHub derives one
  from the text around the line, so an alert would reopen whenever a record moved in its file;
  the cbcheck fingerprint never depends on lines.
- Requirements that produced no result are not silent: not_assessed, error and manual ones
  become execution notifications tied to their rule, not_applicable ones a configuration
  notification plus a rule override with enabled false. Files ignored as not record files
  are execution notifications of level note.
- Previous findings that are gone (report["resolved_findings"], from --baseline) become
  results with baselineState "absent" and kind "pass". GitHub ignores both and would show
  them as open alerts again, so `include_resolved=False` leaves them out for an upload.
  Previous findings whose rule this run did not evaluate (report["unverified_findings"]) stay
  as results of kind "open" (undetermined): dropping them would let a consumer close them.
- Rule descriptors carry every clause a requirement evidences (its own, `alsoClauses`) and its
  place in ISO/IEC 20000-6's structure (`structure`), as properties and as tags, so a dashboard
  filtering by tag finds a finding under each; results carry `alsoClauses` too.
- A waived finding gets an accepted external suppression with the waiver's justification;
  GitHub ignores suppressions too, so it still shows the alert (the gap is real).
"""
from __future__ import annotations

import json
import posixpath
import re
from urllib.parse import quote

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT = "INPUTROOT"
LEVEL = {"major": "error", "minor": "warning", "observation": "note"}
PROBLEM_SEVERITY = {"major": "error", "minor": "warning", "observation": "recommendation"}
BASELINE_STATE = {"new": "new", "persisting": "unchanged", "resolved": "absent"}
KIND = {"resolved": "pass", "unverified": "open"}
# How a requirement without results is announced: notification level, and the wording.
UNREPORTED = {"not_assessed": ("warning", "not assessed"), "error": ("error", "evaluation failed"),
              "manual": ("note", "manual check, records cannot show it; look for")}
GITHUB_TEXT_LIMIT = 1024   # shortDescription / fullDescription are cut there on upload
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def _cap(text: str, limit: int = GITHUB_TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit - 1].rsplit(" ", 1)[0] + "\u2026"


def _uri(path: str) -> str:
    return quote(path, safe="/")


def _is_relative(path: str) -> bool:
    # Both POSIX and Windows absolute forms: the report may come from either.
    return bool(path) and not posixpath.isabs(path) and not re.match(r"^[A-Za-z]:[\\/]|^\\\\", path)


def _uri_bases(input_path: str) -> dict:
    """INPUTROOT, resolved against the working directory when the input path was relative
    (SARIF allows a relative base only on top of another base); otherwise left for the
    consumer to supply, since an absolute path would tie the log to one machine."""
    root = {"description": {"text": "The input folder given to cbcheck check; "
                                    "finding paths are relative to it."}}
    path = posixpath.normpath(input_path.replace("\\", "/")) if input_path else ""
    if not _is_relative(path) or path == ".." or path.startswith("../"):
        return {ROOT: root}
    root.update(uri="./" if path == "." else _uri(path) + "/", uriBaseId="WORKDIR")
    return {"WORKDIR": {"description": {"text": "The directory cbcheck was run from."}}, ROOT: root}


def _physical(file: str, line) -> dict:
    loc = {"artifactLocation": {"uri": _uri(file), "uriBaseId": ROOT}}
    if line:
        loc["region"] = {"startLine": line}
    return loc


def _pascal(title: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.sub(r"[^0-9A-Za-z ]+", "", title).split())


def _also(item: dict) -> list[str]:
    return [f"{c['standard']} {c['clause']}" for c in item.get("also_clauses") or []]


def _descriptor(req: dict) -> dict:
    where = f"{req['standard']} {req['clause']}"
    placed = [f"{s['standard']} {s['clause']}" for s in req.get("structure") or []]
    markdown = (f"**Requirement** ({where}, paraphrased): {req['requirement']}\n\n"
                f"**How to fix:** {req['remediation']}\n\n"
                f"Severity: {req['severity']}; {req['automation']} check.")
    return {
        "id": req["id"],
        "name": _pascal(req["title"]),
        "shortDescription": {"text": _cap(req["title"])},
        "fullDescription": {"text": _cap(req["requirement"])},
        "help": {"text": req["remediation"], "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[req["severity"]]},
        "properties": {
            "standard": req["standard"], "clause": req["clause"], "severity": req["severity"],
            "automation": req["automation"], "problem.severity": PROBLEM_SEVERITY[req["severity"]],
            "alsoClauses": _also(req), "structure": placed,
            "tags": list(dict.fromkeys([req["standard"], where, *_also(req), *placed, req["severity"]])),
        },
    }


def _locations(f: dict) -> list[dict]:
    owner = f["client"] or "cb"
    return [{
        "physicalLocation": _physical(f["file"], f["line"]),
        "logicalLocations": [{
            "name": f["record_id"], "fullyQualifiedName": f"{owner}/{f['record_type']}/{f['record_id']}",
            "kind": "object",
            "properties": {"client": f["client"], "recordType": f["record_type"], "jsonPointer": f["pointer"]},
        }],
    }]


def _related(f: dict) -> list[dict]:
    return [{"id": i, "physicalLocation": _physical(r["file"], r["line"]),
             "message": {"text": f"{r['binding']}: {r['record_type']} {r['record_id']}"
                                 + (f" at {r['pointer']}" if r["pointer"] else "")}}
            for i, r in enumerate(f["related"], start=1)]


def _suppression(f: dict) -> dict:
    waiver = f.get("waiver") or {}
    out = {"kind": "external", "status": "accepted"}
    if waiver.get("justification"):
        out["justification"] = waiver["justification"]
    if waiver:   # the waiver file's path stays out: it is as typed, possibly absolute
        out["properties"] = {"approver": waiver.get("approver"), "expires": waiver.get("expires")}
    return out


def _result(f: dict, rule_index: dict[str, int]) -> dict:
    state = f.get("baseline_status")
    result = {"ruleId": f["rule_id"]}
    if f["rule_id"] in rule_index:   # a previous finding's rule may have left the catalog
        result["ruleIndex"] = rule_index[f["rule_id"]]
    if state in KIND:
        result.update(kind=KIND[state], level="none")   # SARIF: a kind other than fail has level none
    else:
        result["level"] = LEVEL[f["severity"]]
    result["message"] = {"text": f["message"]}
    result["locations"] = _locations(f)
    result["partialFingerprints"] = {"cbcheck/v1": f["fingerprint"],
                                     "primaryLocationLineHash": f"{f['fingerprint']}:1"}
    if f["related"]:
        result["relatedLocations"] = _related(f)
    if state in BASELINE_STATE:
        result["baselineState"] = BASELINE_STATE[state]
    if f.get("waived"):
        result["suppressions"] = [_suppression(f)]
    props = {"severity": f["severity"]}
    if f.get("also_clauses"):
        props["alsoClauses"] = _also(f)
    if state:
        props["baselineStatus"] = state
    if f.get("waiver_expired"):
        props["waiverExpired"] = {k: f["waiver_expired"][k] for k in ("approver", "expires")}
    result["properties"] = props
    return result


def _error_notification(e: dict) -> dict:
    at = f" at {e['pointer']}" if e["pointer"] else ""
    text = f"{e['file']}{':' + str(e['line']) if e['line'] else ''}{at}: {e['message']}" + (
        f" (expected: {e['expected']})" if e["expected"] else "")
    note = {"level": "error", "message": {"text": text}}
    if e["kind"] == "input" and _is_relative(e["file"]):
        note["locations"] = [{"physicalLocation": _physical(e["file"], e["line"])}]
    note["properties"] = {"kind": e["kind"], "jsonPointer": e["pointer"]}
    return note


def _ignored_notification(name: str) -> dict:
    return {"level": "note", "message": {"text": f"{name}: ignored, not read (not a record file)"},
            "properties": {"ignoredFile": name}}


def _rule_notification(req: dict, index: int, level: str, wording: str) -> dict:
    text = f"{req['id']} ({req['standard']} {req['clause']}): {wording}" + (
        f": {req['reason']}" if req["reason"] else "")
    return {"level": level, "message": {"text": text},
            "associatedRule": {"id": req["id"], "index": index}, "properties": {"status": req["status"]}}


def render(report: dict, *, include_resolved: bool = True) -> str:
    reqs = report["requirements"]
    rule_index = {r["id"]: i for i, r in enumerate(reqs)}
    findings = list(report["findings"]) + list(report.get("unverified_findings", []))
    if include_resolved:
        findings += report.get("resolved_findings", [])
    execution = [_error_notification(e) for e in report["errors"]]
    execution += [_ignored_notification(name) for name in report["input"]["files_ignored"]]
    execution += [_rule_notification(r, i, *UNREPORTED[r["status"]])
                  for i, r in enumerate(reqs) if r["status"] in UNREPORTED]
    # A nonconforming requirement judged only in part: its results are there, the rest is not.
    execution += [_rule_notification(r, i, "warning", "nonconforming")
                  for i, r in enumerate(reqs) if r["status"] == "nonconforming" and r["reason"]]
    na = [(i, r) for i, r in enumerate(reqs) if r["status"] == "not_applicable"]
    invocation = {"executionSuccessful": not report["errors"]}
    if execution:
        invocation["toolExecutionNotifications"] = execution
    if na:
        invocation["toolConfigurationNotifications"] = [
            _rule_notification(r, i, "note", "not applicable") for i, r in na]
        invocation["ruleConfigurationOverrides"] = [
            {"descriptor": {"id": r["id"], "index": i}, "configuration": {"enabled": False}} for i, r in na]
    run_props = {"asOf": report["as_of"], "reportFormat": report["report_format"], "summary": report["summary"]}
    if "baseline" in report:
        run_props["baseline"] = report["baseline"]
    version = report["tool"]["version"]
    driver = {"name": "cbcheck", "version": version}
    if SEMVER.match(version):
        driver["semanticVersion"] = version
    driver["rules"] = [_descriptor(r) for r in reqs]
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "automationDetails": {"id": f"cbcheck/{report['as_of']}"},
            "originalUriBaseIds": _uri_bases(report["input"]["path"]),
            "invocations": [invocation],
            "results": [_result(f, rule_index) for f in findings],
            "properties": run_props,
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
