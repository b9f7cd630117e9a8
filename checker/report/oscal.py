"""OSCAL 1.2.1 assessment-results rendering, for GRC tools that read NIST OSCAL.

Mapping choices, each within what OSCAL allows:
- There is no OSCAL catalog of ISO/IEC 17021-1 (its text is licensed), so the document is
  self-contained: every requirement is a local objective (local-definitions, control-id =
  rule id lower-cased by convention, one "assessment-objective" part holding our paraphrase
  with id "<control-id>_obj"), and findings target those parts (type "objective-id", since a
  cbcheck rule is a testable objective, not the standard's statement). So every id resolves.
- import-ap is required but cbcheck has no separate plan: its href "#<uuid>" points at a
  back-matter resource describing the implicit plan (catalog version, as-of date, parameter
  values). A relative file name would dangle; a fragment to back-matter is how OSCAL links
  inside a document.
- An objective status is "satisfied" or "not-satisfied", nothing else. Conforming ->
  satisfied (reason pass); nonconforming -> not-satisfied (fail), linked to one observation
  per finding; not_assessed, manual and error -> not-satisfied with reason "other" and a
  remark saying why: what the records did not demonstrate is never reported as satisfied.
  not_applicable requirements are not findings: they are listed in exclude-controls.
- A requirement's other clauses (`also_clauses`) are "also-clause" properties of its objective,
  finding and observations, and its place in ISO/IEC 20000-6's structure a "structure-clause"
  property, so a GRC tool can file it under each.
- Records named by findings are back-matter resources; observations name the primary one as
  subject (type "resource") and point at every record involved as relevant evidence
  ("#<uuid>", described as file:line#pointer relative to the input folder).
- Input or engine errors are assessment-log entries: they happened during the assessment.
  So are the files ignored as not record files (seen, not read).
- UUIDs are version 5 from a fixed namespace and the content (a digest of the report plus
  each object's key), so the same report gives the same bytes and different reports never
  share a UUID (merging two runs' results into one document stays valid).
Timestamps are the as-of date at 00:00:00Z: the report holds no clock time, on purpose.
"""
from __future__ import annotations

import hashlib
import json
import uuid

from checker.report import json_out

OSCAL_VERSION = "1.2.1"
NS = "urn:cbcheck:oscal"
# uuid5(NAMESPACE_URL, "urn:cbcheck:oscal"), fixed here so it never changes with the code.
NAMESPACE = uuid.UUID("5190160d-7d9a-577a-b430-1e14475e9b96")
NOT_SHOWN = {
    "not_assessed": "Not assessed: {reason}. An evidence gap, not a pass.",
    "manual": ("Not assessed by cbcheck: records cannot show this requirement. "
               "Evidence an assessor should examine: {reason}."),
    "error": "Evaluation failed: {reason}. Nothing can be concluded until the run succeeds.",
}


def _uuid(digest: str, *key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join((digest,) + key)))


def _props(*pairs) -> list[dict]:
    # OSCAL string values: non-empty, one line, no surrounding blanks.
    out = []
    for name, value in pairs:
        text = _one_line(str(value)) if value is not None else ""
        if text:
            out.append({"name": name, "ns": NS, "value": text})
    return out


def _with_props(obj: dict, *pairs) -> dict:
    props = _props(*pairs)
    if props:
        obj["props"] = props
    return obj


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _also_props(item: dict) -> list[tuple[str, str]]:
    """One "also-clause" property per other clause the requirement evidences."""
    return [("also-clause", f"{c['standard']} {c['clause']}") for c in item.get("also_clauses") or []]


def _structure_props(req: dict) -> list[tuple[str, str]]:
    """Where the requirement sits in ISO/IEC 20000-6's own structure."""
    return [("structure-clause", f"{s['standard']} {s['clause']}") for s in req.get("structure") or []]


def _locator(file: str, line, pointer: str) -> str:
    return file + (f":{line}" if line else "") + (f"#{pointer}" if pointer else "")


def _control_id(rule_id: str) -> str:
    return rule_id.lower()


def _evidence(digest: str, f: dict) -> list[dict]:
    items = [(f["record_id"], f["record_type"], f["file"], f["line"], f["pointer"], "finding")]
    # The finding's own record is already the first item, located at the field itself.
    items += [(r["record_id"], r["record_type"], r["file"], r["line"], r["pointer"], r["binding"])
              for r in f["related"] if r["record_id"] != f["record_id"]]
    out, seen = [], set()
    for record_id, record_type, file, line, pointer, role in items:
        where = _locator(file, line, pointer)
        if (record_id, where) in seen:
            continue
        seen.add((record_id, where))
        out.append(_with_props({"href": "#" + _uuid(digest, "record", record_id),
                                "description": f"{record_type} {record_id} at {where}"},
                               ("role", role), ("file", file), ("line", line), ("pointer", pointer)))
    return out


def _observation(digest: str, f: dict, n: int, as_of_ts: str, tool: str) -> dict:
    who = f"client {f['client']}" if f["client"] else "CB-wide"
    remarks = f"How to fix: {f['remediation']}"
    if f.get("waived"):
        w = f.get("waiver") or {}
        remarks += (f"\n\nWaived until {w.get('expires', '?')} by {w.get('approver', '?')}: "
                    f"{w.get('justification', '')}. Still a gap; accepted for now.")
    obs = {"uuid": _uuid(digest, "observation", f["fingerprint"], str(n)),
           "title": _one_line(f"{f['rule_id']} {who}: {f['record_type']} {f['record_id']}"),
           "description": f["message"]}
    _with_props(obs, ("rule-id", f["rule_id"]), ("severity", f["severity"]), ("standard", f["standard"]),
                ("clause", f["clause"]), *_also_props(f), ("client", f["client"]), ("fingerprint", f["fingerprint"]),
                ("variant", f["variant"]), ("baseline-status", f.get("baseline_status")),
                ("waived", "true" if f.get("waived") else None))
    obs.update({
        "methods": ["EXAMINE"], "types": ["finding"],
        "origins": [{"actors": [{"type": "tool", "actor-uuid": tool}]}],
        "subjects": [{"subject-uuid": _uuid(digest, "record", f["record_id"]), "type": "resource",
                      "title": _one_line(f"{f['record_type']} {f['record_id']} ({who})")}],
        "relevant-evidence": _evidence(digest, f),
        "collected": as_of_ts,
        "remarks": remarks,
    })
    return obs


def _finding(digest: str, req: dict, observations: list[str], tool: str) -> dict:
    status = req["status"]
    if status == "conforming":
        state, reason = "satisfied", "pass"
        text = "Checked on every supplied record of the types it needs; no gap found."
    elif status == "nonconforming":
        state, reason = "not-satisfied", "fail"
        text = f"{req['finding_count']} gap(s) found in the records; see the related observations."
        if req.get("waived_count"):
            text += f" {req['waived_count']} of them waived: accepted for now, still gaps."
        if req["reason"]:
            text += f" Only part of it could be assessed: {req['reason'].removeprefix('partly assessed: ')}."
    else:
        state, reason = "not-satisfied", "other"
        text = NOT_SHOWN[status].format(reason=(req["reason"] or "no reason recorded").rstrip("."))
    finding = {"uuid": _uuid(digest, "finding", req["id"]),
               "title": _one_line(f"{req['id']} {req['title']}"), "description": text}
    _with_props(finding, ("standard", req["standard"]), ("clause", req["clause"]), *_also_props(req),
                *_structure_props(req), ("severity", req["severity"]),
                ("automation", req["automation"]), ("requirement-status", status),
                ("finding-count", req["finding_count"]), ("waived-count", req.get("waived_count")))
    finding["origins"] = [{"actors": [{"type": "tool", "actor-uuid": tool}]}]
    verdict = {"state": state, "reason": reason}
    if reason == "other":   # OSCAL has no "not assessed" state; say that this one is not a verdict
        verdict["remarks"] = (f"cbcheck status {status}: the records did not demonstrate the objective; "
                              "this is not an assessor's finding that it is unmet.")
    finding["target"] = {"type": "objective-id", "target-id": _control_id(req["id"]) + "_obj",
                         "title": _one_line(f"{req['standard']} {req['clause']}: {req['title']}"),
                         "status": verdict}
    if observations:
        finding["related-observations"] = [{"observation-uuid": u} for u in observations]
    if status == "nonconforming":
        finding["remarks"] = f"How to fix: {req['remediation']}"
    return finding


def _objective(req: dict) -> dict:
    cid = _control_id(req["id"])
    return _with_props({"control-id": cid, "description": req["title"],
                        "parts": [{"id": cid + "_obj", "name": "assessment-objective",
                                   "prose": req["requirement"]}]},
                       ("rule-id", req["id"]), ("standard", req["standard"]), ("clause", req["clause"]),
                       *_also_props(req), *_structure_props(req),
                       ("severity", req["severity"]), ("automation", req["automation"]))


def _plan(report: dict, plan: str) -> dict:
    parameters = [("parameter", f"{p['name']}={json.dumps(p['value'], ensure_ascii=False, sort_keys=True)}"
                   + (" (overridden)" if p["overridden"] else "")) for p in report["parameters"]]
    return _with_props({
        "uuid": plan, "title": "cbcheck rule catalog, the implicit assessment plan",
        "description": ("cbcheck keeps no separate OSCAL assessment plan. The plan is its rule catalog "
                        f"(cbcheck {report['tool']['version']}), every requirement listed as a local objective, "
                        f"applied to the certification body's records as of {report['as_of']} with the parameter "
                        "values in the properties below.")},
        ("tool-version", report["tool"]["version"]), ("report-format", report["report_format"]), *parameters)


def _records(digest: str, findings: list[dict]) -> list[dict]:
    """One resource per record a finding names (its own or a related one), by record id."""
    records: dict[str, dict] = {}
    for f in findings:
        for r in [f] + f["related"]:
            client = f["client"] if r["record_id"] == f["record_id"] else None
            records.setdefault(r["record_id"], {"type": r["record_type"], "file": r["file"], "client": client})
    return [_with_props({"uuid": _uuid(digest, "record", rid), "title": f"{rec['type']} {rid}",
                         "description": f"Record {rid} ({rec['type']}) of the certification body's records, "
                                        f"in {rec['file']} under the input folder."},
                        ("record-id", rid), ("record-type", rec["type"]), ("client", rec["client"]),
                        ("file", rec["file"]))
            for rid, rec in sorted(records.items())]


def _log(digest: str, errors: list[dict], ignored: list[str], as_of_ts: str) -> dict:
    entries = [_with_props({
        "uuid": _uuid(digest, "error", str(i)), "title": f"{e['kind']} error",
        "description": f"{_locator(e['file'], e['line'], e['pointer'])}: {e['message']}"
                       + (f" (expected: {e['expected']})" if e["expected"] else ""),
        "start": as_of_ts}, ("file", e["file"]), ("line", e["line"]), ("pointer", e["pointer"]))
        for i, e in enumerate(errors)]
    entries += [_with_props({"uuid": _uuid(digest, "ignored", name), "title": "file ignored",
                             "description": f"{name}: ignored, not read (not a record file)", "start": as_of_ts},
                            ("file", name))
                for name in ignored]
    return {"entries": entries}


def _selection(reqs: list[dict]) -> dict:
    applicable = [r for r in reqs if r["status"] != "not_applicable"]
    excluded = [r for r in reqs if r["status"] == "not_applicable"]
    selection = {"description": "Every requirement of the cbcheck catalog in this run; not applicable ones "
                                "(marked so in --params) are excluded."}
    if applicable:
        selection["include-controls"] = [{"control-id": _control_id(r["id"])} for r in applicable]
    else:
        selection["include-all"] = {}
    if excluded:
        selection["exclude-controls"] = [{"control-id": _control_id(r["id"])} for r in excluded]
        selection["remarks"] = "\n".join(f"{r['id']}: {r['reason']}" for r in excluded)
    return selection


def _assets(report: dict, tool: str, platform: str) -> dict:
    return {"assessment-assets": {
        "components": [{"uuid": tool, "type": "software", "title": "cbcheck",
                        "description": "Rules-engine checker of a certification body's records.",
                        "props": _props(("version", report["tool"]["version"])),
                        "status": {"state": "operational"}}],
        "assessment-platforms": [{"uuid": platform, "title": "cbcheck",
                                  "uses-components": [{"component-uuid": tool}]}],
    }}


def _summary(report: dict) -> str:
    s, inp = report["summary"], report["input"]
    return (f"{inp['records']} records of {inp['clients']} clients checked against {s['requirements']} "
            "requirements of ISO/IEC 17021-1:2015 and ISO/IEC 20000-6:2017: "
            + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in s["status"].items() if n)
            + f"; {s['findings']} finding(s)."
            + (f" {s['errors']} input or engine error(s): see the assessment log." if s["errors"] else ""))


def _result(report: dict, digest: str, as_of_ts: str) -> dict:
    tool, platform = _uuid(digest, "tool"), _uuid(digest, "platform")
    observations, by_rule = [], {}
    for n, f in enumerate(report["findings"]):
        obs = _observation(digest, f, n, as_of_ts, tool)
        observations.append(obs)
        by_rule.setdefault(f["rule_id"], []).append(obs["uuid"])
    s, inp = report["summary"], report["input"]
    result = _with_props({"uuid": _uuid(digest, "result"), "title": f"cbcheck run as of {report['as_of']}",
                          "description": _summary(report), "start": as_of_ts},
                         ("records", inp["records"]), ("clients", inp["clients"]), ("findings", s["findings"]),
                         ("errors", s["errors"]))
    result["local-definitions"] = _assets(report, tool, platform)
    result["reviewed-controls"] = {"control-selections": [_selection(report["requirements"])]}
    if report["errors"] or inp["files_ignored"]:
        result["assessment-log"] = _log(digest, report["errors"], inp["files_ignored"], as_of_ts)
    if observations:
        result["observations"] = observations
    findings = [_finding(digest, r, by_rule.get(r["id"], []), tool)
                for r in report["requirements"] if r["status"] != "not_applicable"]
    if findings:
        result["findings"] = findings
    return result


def render(report: dict) -> str:
    digest = hashlib.sha256(json.dumps(json_out.contract(report), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                            .encode("utf-8")).hexdigest()
    as_of_ts = f"{report['as_of']}T00:00:00Z"
    plan = _uuid(digest, "plan")
    doc = {
        "uuid": _uuid(digest, "assessment-results"),
        "metadata": {"title": f"cbcheck conformance assessment as of {report['as_of']}",
                     "last-modified": as_of_ts, "version": report["tool"]["version"],
                     "oscal-version": OSCAL_VERSION},
        "import-ap": {"href": "#" + plan,
                      "remarks": "cbcheck has no separate assessment plan; the back-matter resource describes it."},
    }
    if report["requirements"]:
        doc["local-definitions"] = {"objectives-and-methods": [_objective(r) for r in report["requirements"]]}
    doc["results"] = [_result(report, digest, as_of_ts)]
    doc["back-matter"] = {"resources": [_plan(report, plan)] + _records(digest, report["findings"])}
    return json.dumps({"assessment-results": doc}, indent=2, ensure_ascii=False) + "\n"
