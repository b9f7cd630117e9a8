"""Evidence judged per alternative (issue 11): a rule's alternatives whose evidence is complete
run, the others are listed as not assessed with what they lacked, and the requirement is
conforming only when every alternative was judged and none fired; every report format says
which parts were judged."""
import datetime as dt
import html as html_lib
import json
from pathlib import Path

import jsonschema
import pytest

from checker.catalog.evidence import evidence_gaps, judged_part, partial_assessment
from checker.pipeline import input_evidence, judged_rules, load_input, run_check
from checker.report import html, junit, markdown, oscal, sarif, text
from tests.helpers import records_folder, shipped_rules

AS_OF = dt.date(2025, 6, 30)
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "checker/report/report.schema.json").read_text())
# A register row: the certificate says whom it certifies, but the source has no column for the CB.
CERTIFICATE = {"type": "certificate", "client": "c1", "number": "SM-1", "client_name": "Acme Hosting Ltd",
               "client_address": "1 Dock Road, Leeds", "effective_date": "2024-03-10", "expiry_date": "2027-03-09",
               "status": "active", "x-not-in-source": ["cb_name"]}
PARTIAL = ("partly assessed: judged 'no client name', 'no client address'; not assessed 'no CB name' (the source "
           "cannot carry certificate.cb_name (marked not in source on every record))")


@pytest.fixture(scope="module")
def crt012():
    rules, params = shipped_rules(only={"CRT012"})
    return rules[0], params


def _folder(tmp_path: Path, certificates: list[dict]) -> Path:
    return records_folder(tmp_path, [{"type": "client", "id": "c1", "name": "Acme Hosting Ltd"}] + certificates)


def _requirement(report: dict) -> dict:
    jsonschema.validate(report, SCHEMA)
    return report["requirements"][0]


def test_only_the_alternatives_with_their_evidence_run(tmp_path, crt012):
    rule, params = crt012
    loaded = load_input(_folder(tmp_path, [dict(CERTIFICATE, id="cert1")]))
    evidence = input_evidence(loaded)
    assert evidence_gaps(rule, evidence) == []
    assert judged_part(rule, evidence).unjudged == frozenset({2})
    assert [alt for alt, _check in judged_rules([rule], params, loaded)[0].judged_checks()] == [0, 1]
    assert partial_assessment(rule, evidence) == PARTIAL
    # The catalog's own rule is left whole: only the run's copy leaves the alternative out.
    assert rule.unjudged == frozenset() and len(rule.judged_checks()) == 3


def test_no_finding_on_the_judged_parts_is_not_a_pass(tmp_path, crt012):
    rule, params = crt012
    req = _requirement(run_check(_folder(tmp_path, [dict(CERTIFICATE, id="cert1")]), [rule], params, AS_OF))
    assert (req["status"], req["reason"]) == ("not_assessed", PARTIAL)
    assert req["based_on"]["alternatives"] == [
        {"alternative": 1, "label": "no client name", "assessed": True, "missing": [], "applies_to": "certificate",
         "applied_to": 1},
        {"alternative": 2, "label": "no client address", "assessed": True, "missing": [], "applies_to": "certificate",
         "applied_to": 1},
        {"alternative": 3, "label": "no CB name", "assessed": False, "applies_to": "certificate", "applied_to": None,
         "missing": ["the source cannot carry certificate.cb_name (marked not in source on every record)"]}]


def test_a_judged_part_that_fires_is_a_finding_and_the_rest_is_still_named(tmp_path, crt012):
    rule, params = crt012
    no_address = {k: v for k, v in CERTIFICATE.items() if k != "client_address"}
    report = run_check(_folder(tmp_path, [dict(CERTIFICATE, id="cert1"), dict(no_address, id="cert2")]),
                       [rule], params, AS_OF)
    req = _requirement(report)
    assert (req["status"], req["reason"]) == ("nonconforming", PARTIAL)
    # Neither certificate names the CB, yet no finding says so: that part was not judged.
    assert [(f["record_id"], f["variant"]) for f in report["findings"]] == [("cert2", "no client address")]
    shown = {"text": text.render(report, full=True), "markdown": markdown.render(report),
             "html": html_lib.unescape(html.render(report)), "junit": html_lib.unescape(junit.render(report)),
             "sarif": sarif.render(report), "oscal": oscal.render(report)}
    for fmt, body in shown.items():
        flat = " ".join(body.split()).replace("\\\"", "")
        assert "not assessed 'no CB name'" in flat, fmt
    assert "Not assessed in full" in shown["html"]


def test_a_rule_none_of_whose_alternatives_can_be_judged_is_not_assessed_as_a_whole(tmp_path, crt012):
    rule, params = crt012
    unnamed = dict(CERTIFICATE, id="cert1", **{"x-not-in-source": ["cb_name", "client_name", "client_address"]})
    req = _requirement(run_check(_folder(tmp_path, [unnamed]), [rule], params, AS_OF))
    assert req["status"] == "not_assessed"
    assert req["reason"] == ("the source cannot carry certificate.client_name (marked not in source on every "
                             "record); the source cannot carry certificate.client_address (marked not in source on "
                             "every record); the source cannot carry certificate.cb_name (marked not in source on "
                             "every record)")
    assert [a["assessed"] for a in req["based_on"]["alternatives"]] == [False, False, False]


def test_every_alternative_judged_and_none_fired_is_conforming(tmp_path, crt012):
    rule, params = crt012
    named = {k: v for k, v in CERTIFICATE.items() if k != "x-not-in-source"} | {"cb_name": "Example Cert Ltd"}
    req = _requirement(run_check(_folder(tmp_path, [dict(named, id="cert1")]), [rule], params, AS_OF))
    assert (req["status"], req["reason"]) == ("conforming", None)
    assert all(a["assessed"] for a in req["based_on"]["alternatives"])


def test_a_part_not_assessed_leaves_its_earlier_findings_unverified(tmp_path, crt012):
    """A baseline finding of an alternative this run could not judge is not a fix."""
    from checker.report.baseline import apply_baseline

    rule, params = crt012
    unmarked = {k: v for k, v in CERTIFICATE.items() if k != "x-not-in-source"}
    before = run_check(_folder(tmp_path / "before", [dict(unmarked, id="cert1")]), [rule], params, AS_OF)
    assert [f["variant"] for f in before["findings"]] == ["no CB name"]
    no_address = {k: v for k, v in CERTIFICATE.items() if k != "client_address"}
    now = run_check(_folder(tmp_path / "now", [dict(no_address, id="cert1")]), [rule], params, AS_OF)
    assert now["requirements"][0]["status"] == "nonconforming"
    compared = apply_baseline(now, before)
    assert [f["variant"] for f in compared["unverified_findings"]] == ["no CB name"]
    assert compared["resolved_findings"] == []
