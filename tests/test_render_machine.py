"""The machine-readable renderers (JUnit XML, SARIF 2.1.0, OSCAL assessment-results) on real
pipeline reports: every output validates against the official schema vendored in
tests/schemas (see its SOURCES.md), renders byte-identically twice, leaks no absolute path, and says what the
report says (counts, statuses, locations, waivers, baseline states, input errors)."""
import copy
import datetime as dt
import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import regex
import xmlschema
from jsonschema import ValidationError, validators

from benchmarks.generate_cb import generate
from checker.pipeline import run_check
from checker.report import junit, oscal, sarif
from checker.report.baseline import apply_baseline
from checker.report.waivers import Waiver, apply_waivers
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
AS_OF = dt.date(2025, 11, 1)
NOT_APPLICABLE = "TEAM004"
RENDERERS = {"junit": junit.render, "sarif": sarif.render, "oscal": oscal.render}


# --- the official schemas ----------------------------------------------------------------------

def schema_file(name: str) -> Path:
    path = SCHEMAS / name
    assert path.is_file(), f"{path} is missing: the official schemas are vendored in tests/schemas"
    return path


def _regex_pattern(validator, pattern, instance, schema):
    # OSCAL patterns use \p{L} / \p{N}, which Python's re rejects; the regex module has them.
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def json_validator(name: str, draft):
    schema = json.loads(schema_file(name).read_text(encoding="utf-8"))
    base = validators.validator_for(schema)          # the draft the schema declares
    assert base is draft, f"{name} declares {schema.get('$schema')}"
    cls = validators.extend(base, {"pattern": _regex_pattern})
    return cls(schema, format_checker=base.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def junit_schema():
    return xmlschema.XMLSchema(str(schema_file("junit-10.xsd")))


@pytest.fixture(scope="module")
def sarif_schema():
    return json_validator("sarif-schema-2.1.0.json", jsonschema.Draft4Validator)


@pytest.fixture(scope="module")
def oscal_schemas():
    return {"1.2.1": json_validator("oscal-1.2.1/oscal_assessment-results_schema.json", jsonschema.Draft7Validator),
            "1.1.3": json_validator("oscal-1.1.3/oscal_assessment-results_schema.json", jsonschema.Draft7Validator)}


def errors_of(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


def test_schemas_are_the_official_copies():
    """Digests from tests/schemas/SOURCES.md: a validation against an edited copy proves nothing."""
    digests = {
        "junit-10.xsd": "a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6",
        "sarif-schema-2.1.0.json": "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e",
        "oscal-1.1.3/oscal_assessment-results_schema.json": "d9e34757f0c12aff61f52b821f0b8f83ba0ba75b3a149a202b08ba82f82bc4c3",
        "oscal-1.2.1/oscal_assessment-results_schema.json":
            "4f9e277a177adbcca9527612ce450a33dc6096773fa229d413d801d196c61985",
    }
    for name, digest in digests.items():
        assert hashlib.sha256(schema_file(name).read_bytes()).hexdigest() == digest, name


def test_format_checks_are_active(sarif_schema, oscal_schemas):
    """uri and date-time formats are checked (they need rfc3986-validator and rfc3339-validator);
    without them a schema's format keyword silently passes anything."""
    for v in [sarif_schema, *oscal_schemas.values()]:
        assert {"uri", "date-time"} <= set(v.format_checker.checkers)


# --- reports from the real pipeline ------------------------------------------------------------

@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A generated CB (a few planted gaps) with one rule marked not applicable."""
    base = tmp_path_factory.mktemp("clean")
    folder = base / "cb"
    generate(folder, 30, layout="folders")
    params = base / "params.yaml"
    params.write_text(f"not_applicable:\n  {NOT_APPLICABLE}: We never admit observers.\n", encoding="utf-8")
    rules, parameters = shipped_rules(params_file=params)
    report = run_check(folder, rules, parameters, AS_OF)
    assert not report["errors"] and report["findings"], "the tests need a clean run with findings"
    statuses = {r["status"] for r in report["requirements"]}
    assert {"nonconforming", "conforming", "manual", "not_applicable"} <= statuses
    return report


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """Input with a malformed YAML file and an unknown field: errors, nothing evaluated."""
    folder = tmp_path_factory.mktemp("broken") / "cb"
    (folder / "clients" / "acme").mkdir(parents=True)
    (folder / "cb.yaml").write_text("{type: cb, id: the-cb, name: Demo CB}\n", encoding="utf-8")
    (folder / "clients" / "acme" / "records.yaml").write_text(
        "- {type: client, id: acme, name: Acme, colour: blue}\n"
        "- {type: audit, id: a1, client: acme\n", encoding="utf-8")
    rules, parameters = shipped_rules()
    report = run_check(folder, rules, parameters, AS_OF)
    assert report["errors"], "the malformed file must give input errors"
    return report


@pytest.fixture(scope="module")
def demo():
    """The bundled demo CB (fixtures/demo-cb): clean clients and clients with planted gaps."""
    rules, parameters = shipped_rules()
    return run_check(ROOT / "fixtures" / "demo-cb", rules, parameters, dt.date(2026, 11, 25))


@pytest.fixture(scope="module")
def nightly(demo):
    """The demo through the real nightly steps: a baseline from an earlier date (so some findings
    are new and one is resolved) and two waivers, one active and one expired."""
    assert not demo["errors"] and len(demo["findings"]) >= 2, "the demo must run clean with findings"
    rules, parameters = shipped_rules()
    previous = run_check(ROOT / "fixtures" / "demo-cb", rules, parameters, dt.date(2025, 6, 1))
    first, second = demo["findings"][:2]
    waivers = [Waiver(rule=first["rule_id"], client=first["client"], justification="Accepted until the next audit.",
                      approver="Q. Manager", expires="2027-01-31", file="waivers.yaml", line=1),
               Waiver(rule=second["rule_id"], fingerprint=second["fingerprint"], justification="Old.",
                      approver="Q. Manager", expires="2026-01-31", file="waivers.yaml", line=6)]
    report = apply_baseline(apply_waivers(demo, waivers, demo["as_of"]), previous)
    assert report["summary"]["waived"] and report["baseline"]["new"] and report["resolved_findings"]
    return report


@pytest.fixture(scope="module")
def rich(clean):
    """The clean report with every optional key other work adds (waivers, baseline), an engine
    error, a finding without a line, a CB-wide one and a control character: all cases at once.
    Checked against report.schema.json so the shapes are the contract's, not made up here."""
    r = copy.deepcopy(clean)
    f0, f1 = r["findings"][0], r["findings"][-1]
    for f in r["findings"]:
        f["baseline_status"] = "persisting"
        f["waived"] = False
    f0.update(waived=True, baseline_status="new", waiver={
        "justification": "Reissue agreed; old certificate withdrawn.", "approver": "J. Smith",
        "expires": "2026-03-31", "file": "waivers.yaml", "line": 3})
    f1.update(line=None, client=None, message=f1["message"] + " Bell\x07 & <tag> \"q\"")
    f1["waiver_expired"] = {"justification": "Old.", "approver": "K. Lee", "expires": "2025-01-31",
                            "file": "waivers.yaml", "line": 9}
    gone = copy.deepcopy(f0)
    gone.update(fingerprint="0123456789abcdef", record_id="cl00001-cert1", baseline_status="resolved", waived=False)
    gone.pop("waiver")
    lost = copy.deepcopy(gone)
    lost.update(fingerprint="fedcba9876543210", rule_id="GONE01", baseline_status="unverified")
    r["resolved_findings"], r["unverified_findings"] = [gone], [lost]
    for req in r["requirements"]:
        req["waived_count"] = sum(1 for f in r["findings"] if f["rule_id"] == req["id"] and f["waived"])
    broken_req = next(q for q in r["requirements"] if q["status"] == "conforming")
    broken_req.update(status="error", reason="evaluation failed for partition(s) cl00003")
    r["errors"].append({"kind": "engine", "file": "partition cl00003", "line": None, "pointer": "",
                        "message": "worker died", "expected": "the partition evaluated"})
    r["summary"]["errors"] = 1
    r["summary"]["waived"] = 1
    schema = json.loads((ROOT / "checker/report/report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(r)
    return r


@pytest.fixture(scope="module")
def reports(clean, broken, demo, nightly, rich):
    return {"clean": clean, "broken": broken, "demo": demo, "nightly": nightly, "rich": rich}


REPORT_NAMES = ["clean", "broken", "demo", "nightly", "rich"]


# --- every renderer: schema-valid, deterministic, portable -------------------------------------

@pytest.mark.parametrize("name", REPORT_NAMES)
def test_junit_validates(reports, junit_schema, name):
    junit_schema.validate(junit.render(reports[name]))


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_sarif_validates(reports, sarif_schema, name):
    assert errors_of(sarif_schema, json.loads(sarif.render(reports[name]))) == []
    assert errors_of(sarif_schema, json.loads(sarif.render(reports[name], include_resolved=False))) == []


@pytest.mark.parametrize("name", REPORT_NAMES)
@pytest.mark.parametrize("version", ["1.2.1", "1.1.3"])
def test_oscal_validates(reports, oscal_schemas, name, version):
    assert errors_of(oscal_schemas[version], json.loads(oscal.render(reports[name]))) == []


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_deterministic_and_portable(reports, fmt, name):
    report = reports[name]
    first = RENDERERS[fmt](report)
    assert RENDERERS[fmt](copy.deepcopy(report)) == first
    assert RENDERERS[fmt](json.loads(json.dumps(report))) == first       # as read back from --format json
    assert report == reports[name], "a renderer must not modify the report"
    if Path(report["input"]["path"]).is_absolute():
        assert report["input"]["path"] not in first
    assert not re.search(r"(?<![\w.])/(tmp|home|root|work|Users)/", first)


def test_validators_reject_broken_documents(clean, junit_schema, sarif_schema, oscal_schemas):
    """The schema checks above can fail: a broken document of each kind is rejected."""
    tree = ET.fromstring(junit.render(clean))
    del tree.find("testsuite").attrib["tests"]
    assert not junit_schema.is_valid(ET.tostring(tree, encoding="unicode"))

    log = json.loads(sarif.render(clean))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert errors_of(sarif_schema, log)

    for v in oscal_schemas.values():
        for path, bad in ((("uuid",), "not-a-uuid"),
                          (("results", 0, "findings", 0, "target", "target-id"), "1st-objective"),   # \p{L} needed
                          (("results", 0, "start"), "2025-11-01"),                                    # no time
                          (("import-ap", "href"), "a b")):                                            # not a URI
            doc = json.loads(oscal.render(clean))
            at = doc["assessment-results"]
            for key in path[:-1]:
                at = at[key]
            at[path[-1]] = bad
            assert errors_of(v, doc), f"{path} = {bad!r} passed"
        doc = json.loads(oscal.render(clean))     # and a letter outside ASCII is a letter (\p{L})
        doc["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] = "größe_obj"
        assert errors_of(v, doc) == []


# --- JUnit -------------------------------------------------------------------------------------

def expected_junit(report: dict) -> dict:
    by_rule = {}
    for f in report["findings"]:
        by_rule.setdefault(f["rule_id"], []).append(f)
    fully_waived = {r for r, fs in by_rule.items() if all(f.get("waived") for f in fs)}
    # A requirement is one test case under its own clause and one under each clause it also evidences.
    reqs = [r for r in report["requirements"] for _ in range(1 + len(r["also_clauses"]))]
    return {
        "tests": len(reqs) + max(1, len(report["errors"])),
        "failures": sum(r["status"] == "nonconforming" and r["id"] not in fully_waived for r in reqs),
        "errors": sum(r["status"] == "error" for r in reqs) + len(report["errors"]),
        "skipped": sum(r["status"] in ("manual", "not_assessed", "not_applicable")
                       or (r["status"] == "nonconforming" and r["id"] in fully_waived) for r in reqs),
    }


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_junit_counts(reports, name):
    report = reports[name]
    root = ET.fromstring(junit.render(report))
    want = expected_junit(report)
    for key in ("tests", "failures", "errors"):
        assert int(root.get(key)) == want[key], key
    suites = root.findall("testsuite")
    assert sum(int(s.get("skipped")) for s in suites) == want["skipped"]
    for s in suites:   # each suite's counts are its own children's
        cases = s.findall("testcase")
        assert int(s.get("tests")) == len(cases)
        for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(s.get(attr)) == sum(c.find(tag) is not None for c in cases), (s.get("name"), attr)
    standards = list(dict.fromkeys(r["standard"] for r in report["requirements"]))
    assert [s.get("name") for s in suites] == ["cbcheck"] + standards


def test_junit_cases_say_what_the_report_says(rich):
    root = ET.fromstring(junit.render(rich))
    all_cases = [c for s in root.findall("testsuite")[1:] for c in s.findall("testcase")]
    cases = {c.get("name").split(" ")[0]: c for c in all_cases if "(also; " not in c.get("name")}
    assert len(cases) == len(rich["requirements"])
    also = [c for c in all_cases if "(also; " in c.get("name")]
    assert also and sorted((c.get("name").split(" ")[0], c.get("classname")) for c in also) == sorted(
        (r["id"], f"{a['standard']}.{a['clause']}") for r in rich["requirements"] for a in r["also_clauses"])
    for case in also:   # the same verdict under the other clause
        own = cases[case.get("name").split(" ")[0]]
        assert [(x.tag, x.get("message")) for x in case] == [(x.tag, x.get("message")) for x in own]
    for req in rich["requirements"]:
        case = cases[req["id"]]
        assert case.get("classname") == f"{req['standard']}.{req['clause']}"
        assert case.get("name") == f"{req['id']} {req['title']}"
        findings = [f for f in rich["findings"] if f["rule_id"] == req["id"]]
        if req["status"] == "nonconforming" and not all(f["waived"] for f in findings):
            failure = case.find("failure")
            assert failure.get("message").startswith(f"{len(findings)} finding(s)")
            for f in findings:
                assert f"{f['record_type']} {f['record_id']} at {f['file']}" in failure.text
                assert f["fingerprint"] not in failure.text          # text for people, not ids
                assert f["message"].split(" Bell")[0] in failure.text
            assert req["remediation"] in failure.text
        elif req["status"] in ("manual", "not_assessed", "not_applicable"):
            assert req["reason"] in case.find("skipped").get("message")
        elif req["status"] == "error":
            assert case.find("error").get("message") == req["reason"]
        elif req["status"] == "conforming":
            assert list(case) == []
    waived_rule = rich["findings"][0]["rule_id"]
    text = ET.tostring(cases[waived_rule], encoding="unicode")
    assert "Waived until 2026-03-31 by J. Smith" in text
    assert "\\x07" in ET.tostring(root, encoding="unicode")     # a control character is shown, not dropped
    run = root.find("testsuite")
    errors = run.findall("testcase/error")
    assert [e.get("type") for e in errors] == [e["kind"] for e in rich["errors"]]


def test_junit_input_errors_are_test_cases(broken):
    root = ET.fromstring(junit.render(broken))
    run = root.find("testsuite")
    cases = run.findall("testcase")
    assert len(cases) == len(broken["errors"])
    for case, err in zip(cases, broken["errors"]):
        assert case.get("classname") == f"cbcheck.{err['kind']}"
        assert err["file"] in case.get("name")
        assert case.find("error").get("message") == err["message"]
    # nothing was evaluated: every automated requirement is skipped, none passes
    assert all(c.find("skipped") is not None
               for s in root.findall("testsuite")[1:] for c in s.findall("testcase"))


def test_junit_waiver_covering_every_finding_skips(clean):
    r = copy.deepcopy(clean)
    rule = r["findings"][0]["rule_id"]
    for f in r["findings"]:
        if f["rule_id"] == rule:
            f.update(waived=True, waiver={"justification": "Accepted.", "approver": "Q", "expires": "2026-01-01",
                                          "file": "w.yaml", "line": 1})
    root = ET.fromstring(junit.render(r))
    (case,) = [c for c in root.iter("testcase") if c.get("name").startswith(rule + " ")]
    assert case.find("failure") is None and case.find("skipped").get("type") == "waived"
    assert int(root.get("failures")) == expected_junit(clean)["failures"] - 1


# --- SARIF -------------------------------------------------------------------------------------

def test_sarif_rules_and_results(rich):
    log = json.loads(sarif.render(rich))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "cbcheck" and "informationUri" not in run["tool"]["driver"]
    assert [r["id"] for r in rules] == [q["id"] for q in rich["requirements"]]
    level = {"major": "error", "minor": "warning", "observation": "note"}
    for rule, req in zip(rules, rich["requirements"]):
        assert rule["shortDescription"]["text"] == req["title"]
        assert rule["fullDescription"]["text"] == req["requirement"]
        assert rule["help"]["text"] == req["remediation"] and req["remediation"] in rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] == level[req["severity"]]
        props = rule["properties"]
        assert (props["standard"], props["clause"], props["severity"], props["automation"]) == (
            req["standard"], req["clause"], req["severity"], req["automation"])
        assert f"{req['standard']} {req['clause']}" in props["tags"]
    results = run["results"]
    findings = rich["findings"] + rich["unverified_findings"] + rich["resolved_findings"]
    assert len(results) == len(findings)
    for res, f in zip(results, findings):
        assert res["ruleId"] == f["rule_id"]
        if "ruleIndex" in res:
            assert rules[res["ruleIndex"]]["id"] == f["rule_id"]
        else:
            assert f["rule_id"] not in {r["id"] for r in rules}
        assert res["message"]["text"] == f["message"]
        assert res["partialFingerprints"]["cbcheck/v1"] == f["fingerprint"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"] == {"uri": f["file"], "uriBaseId": "INPUTROOT"}
        assert loc.get("region", {}).get("startLine") == f["line"]
        logical = res["locations"][0]["logicalLocations"][0]
        assert logical["name"] == f["record_id"] and logical["properties"]["jsonPointer"] == f["pointer"]
        assert logical["properties"]["client"] == f["client"]
        assert [r["physicalLocation"]["region"]["startLine"] for r in res.get("relatedLocations", [])] == [
            r["line"] for r in f["related"]]
    by_fp = {r["partialFingerprints"]["cbcheck/v1"]: r for r in results}
    f0 = rich["findings"][0]
    assert by_fp[f0["fingerprint"]]["baselineState"] == "new"
    assert by_fp[f0["fingerprint"]]["suppressions"] == [{
        "kind": "external", "status": "accepted", "justification": f0["waiver"]["justification"],
        "properties": {"approver": "J. Smith", "expires": "2026-03-31"}}]
    assert all(by_fp[f["fingerprint"]]["baselineState"] == "unchanged" for f in rich["findings"][1:])
    assert all("suppressions" not in by_fp[f["fingerprint"]] for f in rich["findings"][1:])
    assert by_fp[rich["findings"][-1]["fingerprint"]]["level"] == level[rich["findings"][-1]["severity"]]
    assert by_fp["0123456789abcdef"]["baselineState"] == "absent" and by_fp["0123456789abcdef"]["kind"] == "pass"
    assert by_fp["fedcba9876543210"]["kind"] == "open" and "baselineState" not in by_fp["fedcba9876543210"]
    without = json.loads(sarif.render(rich, include_resolved=False))["runs"][0]["results"]
    assert len(without) == len(results) - 1
    assert "0123456789abcdef" not in {r["partialFingerprints"]["cbcheck/v1"] for r in without}


def test_sarif_nightly(nightly):
    """Waivers and baseline as the real nightly steps set them."""
    results = json.loads(sarif.render(nightly))["runs"][0]["results"]
    by_fp = {r["partialFingerprints"]["cbcheck/v1"]: r for r in results}
    assert len(results) == len(nightly["findings"]) + len(nightly["resolved_findings"])
    state = {"new": "new", "persisting": "unchanged"}
    for f in nightly["findings"]:
        res = by_fp[f["fingerprint"]]
        assert res["baselineState"] == state[f["baseline_status"]]
        if f["waived"]:
            assert res["suppressions"][0]["justification"] == f["waiver"]["justification"]
            assert res["suppressions"][0]["properties"]["expires"] == f["waiver"]["expires"]
        else:
            assert "suppressions" not in res
        if f.get("waiver_expired"):
            assert res["properties"]["waiverExpired"]["expires"] == f["waiver_expired"]["expires"]
    assert any("waiverExpired" in r["properties"] for r in results)
    for f in nightly["resolved_findings"]:
        assert by_fp[f["fingerprint"]]["baselineState"] == "absent"


def test_sarif_invocation(rich, broken, clean):
    inv = json.loads(sarif.render(clean))["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is True
    assert {n["associatedRule"]["id"] for n in inv["toolExecutionNotifications"]} == {
        r["id"] for r in clean["requirements"] if r["status"] in ("manual", "not_assessed", "error")}
    (override,) = inv["ruleConfigurationOverrides"]
    assert override["descriptor"]["id"] == NOT_APPLICABLE and override["configuration"] == {"enabled": False}
    assert inv["toolConfigurationNotifications"][0]["associatedRule"]["id"] == NOT_APPLICABLE

    inv = json.loads(sarif.render(broken))["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    errors = [n for n in inv["toolExecutionNotifications"] if "associatedRule" not in n]
    assert len(errors) == len(broken["errors"])
    for note, err in zip(errors, broken["errors"]):
        assert note["level"] == "error" and err["message"] in note["message"]["text"]
        loc = note["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == err["file"]
        assert loc.get("region", {}).get("startLine") == err["line"]

    inv = json.loads(sarif.render(rich))["runs"][0]["invocations"][0]
    engine = [n for n in inv["toolExecutionNotifications"] if n.get("properties", {}).get("kind") == "engine"]
    assert len(engine) == 1 and "locations" not in engine[0]      # a partition is no file


def test_sarif_github_subset(rich):
    """What GitHub code scanning needs or limits (docs.github.com, SARIF support for code scanning)."""
    run = json.loads(sarif.render(rich, include_resolved=False))["runs"][0]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and len(rule["shortDescription"]["text"]) <= 1024
        assert rule["fullDescription"]["text"] and len(rule["fullDescription"]["text"]) <= 1024
        assert rule["help"]["text"] and len(rule["name"]) <= 255 and len(rule["properties"]["tags"]) <= 20
    for res in run["results"]:
        assert res["partialFingerprints"]["primaryLocationLineHash"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri and not uri.startswith("/") and ":" not in uri.split("/")[0]
    assert len(run["results"]) <= 25000
    assert run["automationDetails"]["id"] == f"cbcheck/{rich['as_of']}"


def test_sarif_uris(clean):
    r = copy.deepcopy(clean)
    r["input"]["path"] = "exports/cb 1"
    r["findings"][0]["file"] = "clients/a b#1.yaml"
    log = json.loads(sarif.render(r))["runs"][0]
    assert log["originalUriBaseIds"]["INPUTROOT"]["uri"] == "exports/cb%201/"
    assert log["originalUriBaseIds"]["INPUTROOT"]["uriBaseId"] == "WORKDIR"
    assert "uri" not in log["originalUriBaseIds"]["WORKDIR"]
    assert log["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "clients/a%20b%231.yaml"
    for path in ("/srv/exports/cb", "C:\\exports\\cb", "../elsewhere"):
        r["input"]["path"] = path
        bases = json.loads(sarif.render(r))["runs"][0]["originalUriBaseIds"]
        assert set(bases) == {"INPUTROOT"} and "uri" not in bases["INPUTROOT"], path


# --- OSCAL -------------------------------------------------------------------------------------

def walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_oscal_references_resolve(reports, name):
    report = reports[name]
    doc = json.loads(oscal.render(report))["assessment-results"]
    uuids = [n["uuid"] for n in walk(doc) if "uuid" in n]
    assert len(uuids) == len(set(uuids)), "duplicate uuid"
    assert all(uuid.UUID(u).version == 5 for u in uuids)
    resources = {r["uuid"] for r in doc["back-matter"]["resources"]}
    hrefs = [n["href"] for n in walk(doc) if "href" in n]
    assert hrefs and all(h.startswith("#") and h[1:] in resources for h in hrefs)
    (result,) = doc["results"]
    observations = {o["uuid"] for o in result.get("observations", [])}
    for finding in result.get("findings", []):
        assert {o["observation-uuid"] for o in finding.get("related-observations", [])} <= observations
    parts = {p["id"] for o in doc.get("local-definitions", {}).get("objectives-and-methods", []) for p in o["parts"]}
    assert {f["target"]["target-id"] for f in result.get("findings", [])} <= parts
    subjects = {s["subject-uuid"] for o in result.get("observations", []) for s in o["subjects"]}
    assert subjects <= resources
    tool = result["local-definitions"]["assessment-assets"]["components"][0]["uuid"]
    actors = {a["actor-uuid"] for n in walk(result) for a in n.get("actors", [])}
    assert actors == ({tool} if result.get("findings") else set())


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_oscal_says_what_the_report_says(reports, name):
    report = reports[name]
    doc = json.loads(oscal.render(report))["assessment-results"]
    ts = f"{report['as_of']}T00:00:00Z"
    assert doc["metadata"]["last-modified"] == ts and doc["metadata"]["oscal-version"] == "1.2.1"
    assert doc["metadata"]["version"] == report["tool"]["version"]
    (result,) = doc["results"]
    assert result["start"] == ts
    reqs = report["requirements"]
    applicable = [r for r in reqs if r["status"] != "not_applicable"]
    (selection,) = result["reviewed-controls"]["control-selections"]
    assert [c["control-id"] for c in selection["include-controls"]] == [r["id"].lower() for r in applicable]
    assert [c["control-id"] for c in selection.get("exclude-controls", [])] == [
        r["id"].lower() for r in reqs if r["status"] == "not_applicable"]
    findings = result.get("findings", [])
    assert [f["target"]["target-id"] for f in findings] == [r["id"].lower() + "_obj" for r in applicable]
    want_state = {"conforming": ("satisfied", "pass"), "nonconforming": ("not-satisfied", "fail")}
    for f, req in zip(findings, applicable):
        status = f["target"]["status"]
        assert (status["state"], status["reason"]) == want_state.get(req["status"], ("not-satisfied", "other"))
        assert len(f.get("related-observations", [])) == req["finding_count"]
        if req["status"] not in want_state:      # not a verdict, and the text says so
            assert req["reason"].rstrip(".") in f["description"] and "not an assessor's finding" in status["remarks"]
    observations = result.get("observations", [])
    assert len(observations) == len(report["findings"])
    for o, fnd in zip(observations, report["findings"]):
        assert o["methods"] == ["EXAMINE"] and o["collected"] == ts and o["description"] == fnd["message"]
        locator = (fnd["file"] + (f":{fnd['line']}" if fnd["line"] else "")
                   + (f"#{fnd['pointer']}" if fnd["pointer"] else ""))
        assert o["relevant-evidence"][0]["description"].endswith(" at " + locator)
        assert fnd["record_id"] in o["subjects"][0]["title"]
        assert {"name": "fingerprint", "ns": oscal.NS, "value": fnd["fingerprint"]} in o["props"]
    log = result.get("assessment-log", {}).get("entries", [])
    assert len(log) == len(report["errors"])
    assert all(e["message"] in entry["description"] for e, entry in zip(report["errors"], log))


def test_oscal_uuids_follow_content(clean):
    a = json.loads(oscal.render(clean))["assessment-results"]
    changed = copy.deepcopy(clean)
    changed["findings"][0]["message"] += " (edited)"
    b = json.loads(oscal.render(changed))["assessment-results"]
    assert a["uuid"] != b["uuid"] and a["results"][0]["uuid"] != b["results"][0]["uuid"]


def test_oscal_loads_in_trestle(reports, tmp_path):
    """compliance-trestle's own OSCAL models and its extra checks (duplicate uuids and more)."""
    import argparse   # compliance-trestle is in the test extras: a missing install fails here, never skips

    import trestle.core.validator_factory as validator_factory
    from trestle.oscal.assessment_results import AssessmentResults
    check_all = validator_factory.validator_factory.get(argparse.Namespace(mode="all"))
    for name in REPORT_NAMES:
        path = tmp_path / f"{name}.json"
        path.write_text(oscal.render(reports[name]), encoding="utf-8")
        model = AssessmentResults.oscal_read(path)
        assert model is not None and check_all.model_is_valid(model, True, None), name
