"""`cbcheck explain`: every finding of the demo explained from the engine's own run, the
explanations' words checked against hand-worked examples, and disagreement with the engine an
internal error, never an invented explanation."""
import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from checker.engine.explain import ExplanationMismatch, Explainer, verify
from checker.engine.partition import CB_PARTITION
from checker.explain import explain_report
from checker.pipeline import load_input, run_check
from checker.report.explanation import finding_lines
from cli import main
from helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
AS_OF = dt.date(2026, 11, 25)
SCHEMA = json.loads((ROOT / "checker/report/explanation.schema.json").read_text(encoding="utf-8"))
DOCUMENT = Draft202012Validator(SCHEMA)
FINDING_EXPLANATION = Draft202012Validator({"$ref": "#/$defs/finding_explanation", "$defs": SCHEMA["$defs"]})


@pytest.fixture(scope="module")
def demo():
    rules, params = shipped_rules()
    loaded = load_input(str(DEMO))
    report = run_check(str(DEMO), rules, params, AS_OF, loaded=loaded)
    return rules, params, loaded, report


def _finding(report, rule_id, client):
    (found,) = [f for f in report["findings"] if f["rule_id"] == rule_id and f["client"] == client]
    return found


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_every_demo_finding_is_explained_with_its_record_and_the_rules_bindings(demo):
    rules, params, loaded, report = demo
    explanations = explain_report(report, loaded, rules, params, AS_OF)
    assert report["findings"] and set(explanations) == {f["fingerprint"] for f in report["findings"]}
    by_id = {r.id: r for r in rules}
    for finding in report["findings"]:
        expl = explanations[finding["fingerprint"]]
        FINDING_EXPLANATION.validate(expl)
        assert (expl["record"]["record_id"], expl["record"]["pointer"]) == (finding["record_id"], finding["pointer"])
        check = by_id[finding["rule_id"]].checks[expl["alternative"] - 1]
        assert [b["binding"] for b in expl["bindings"]] == [b.name for b in check.bindings]
        assert {b["binding"]: b["record_id"] for b in expl["bindings"]} == \
               {r["binding"]: r["record_id"] for r in finding["related"]}
        assert all(c["holds"] for b in expl["bindings"] for c in b["conditions"])
        assert len(expl["absent"]) == len(check.absent)
        assert not any(c["satisfies"] for clause in expl["absent"] for c in clause["candidates"])


def test_overdue_first_surveillance_names_the_deadline_and_each_late_audit(demo):
    rules, params, loaded, report = demo
    finding = _finding(report, "CYC002", "ravenscar")
    text = finding_lines(Explainer(loaded.index, rules, params.values(), AS_OF).explain_finding(finding))
    # Decided 2021-01-18; 12 months on is 2022-01-18; the first surveillance began 2022-02-21.
    assert "    d = decision rv-dec-grant (clients/ravenscar/decisions.yaml:2)" in text
    assert ("      holds  date < $as_of - months($first_surveillance_max_months): "
            "date 2021-01-18 < 2025-11-25 (as of 2026-11-25 - 12 months)") in text
    late = text.index("    audit rv-sv2022 (clients/ravenscar/audits.yaml:76) fails:")
    assert text[late + 1] == ("      fails  start_date <= d.date + months($first_surveillance_max_months): "
                              "start_date 2022-02-21 > 2022-01-18 (d.date 2021-01-18 + 12 months), not <=")
    assert "    8 candidate(s) considered, none satisfies every condition" in text


def test_missing_agreement_lists_the_only_candidate_and_why_it_does_not_count(demo):
    rules, params, loaded, report = demo
    finding = _finding(report, "DEC004", "kestrel")
    text = finding_lines(Explainer(loaded.index, rules, params.values(), AS_OF).explain_finding(finding))
    # The agreement was signed 2021-04-26, two weeks after the grant of 2021-04-12.
    assert text[text.index("  Absent clause 1: no certification_agreement where client == d.client; "
                           "signed_date <= d.date") + 1:] == [
        "    1 candidate(s) considered, none satisfies every condition",
        "    certification_agreement ke-agr-2021 (clients/kestrel/application.yaml:62) fails:",
        "      fails  signed_date <= d.date: signed_date 2021-04-26 > 2021-04-12 (d.date), not <="]


def test_self_field_comparison_of_derived_values_shows_how_each_was_computed(demo):
    rules, params, loaded, report = demo
    finding = _finding(report, "TIME009", "saltmarsh")
    text = finding_lines(Explainer(loaded.index, rules, params.values(), AS_OF).explain_finding(finding))
    # 20 persons -> Table 1: 7 days; 6 planned: (6 - 7) / 7 = -14.29 %; no negative adjustment listed.
    assert ("      holds  audit_time.reduction_percent > self.audit_time.adjustments_reduction_percent: "
            "audit_time.reduction_percent 14.29 > 0 (self.audit_time.adjustments_reduction_percent)") in text
    assert ("             audit_time.deviation_percent of sm-rev-2021 is derived: (audit_time.initial_audit_days "
            "− table1_days) / table1_days × 100, 2 decimals; from audit_time.initial_audit_days 6, "
            "audit_time.table1_days 7; parameters sm_table1_audit_days") in text
    assert ("             audit_time.table1_days of sm-rev-2021 is derived: Table 1 audit days for "
            "audit_time.persons; absent above the table's last band; from audit_time.persons 20; "
            "parameters sm_table1_audit_days") in text


def test_derived_kind_names_the_record_it_comes_from(demo):
    rules, params, loaded, report = demo
    finding = _finding(report, "CYC003", "ravenscar")
    expl = Explainer(loaded.index, rules, params.values(), AS_OF).explain_finding(finding)
    (y,) = expl["bindings"]
    assert (y["fact"], y["record_id"], y["reads"]) == ("rv-cert-2#year#2025", "rv-cert-2",
                                                       {"client": "ravenscar", "year": 2025})
    assert y["derived"].startswith("one per certificate and calendar year")
    cancelled = next(c for c in expl["absent"][0]["candidates"] if c["fact"] == "rv-sv2025")
    assert [(c["condition"], c["text"]) for c in cancelled["conditions"] if not c["holds"]] == \
           [("status is not 'cancelled'", "status 'cancelled' in ['cancelled']")]


def test_an_explanation_disagreeing_with_the_engine_is_an_internal_error(demo):
    rules, params, loaded, report = demo
    explainer = Explainer(loaded.index, rules, params.values(), AS_OF)
    finding = _finding(report, "DEC004", "kestrel")
    explanation = explainer.explain_finding(finding)
    verify(explanation, finding)
    perturbed = copy.deepcopy(explanation)
    perturbed["bindings"][0]["record_id"] = "ke-dec-other"
    with pytest.raises(ExplanationMismatch, match="matched records"):
        verify(perturbed, finding)
    satisfied = copy.deepcopy(explanation)
    satisfied["absent"][0]["candidates"][0]["satisfies"] = True
    with pytest.raises(ExplanationMismatch, match="absent clause 1 is satisfied by ke-agr-2021"):
        verify(satisfied, finding)
    # A finding the engine reported differently (another message) is not explained either.
    with pytest.raises(ExplanationMismatch, match="differs from the engine's in message"):
        explainer.explain_finding(dict(finding, message="something else"))
    # Nor is a pass where the reference evaluator sees a finding.
    with pytest.raises(ExplanationMismatch, match="engine reported no such finding"):
        explainer.explain_pass(next(r for r in rules if r.id == "DEC004"), "kestrel")


def test_cli_explains_a_fingerprint_in_text_and_json():
    code, out = run("explain", DEMO, "958c00979bd06037", "--as-of", "2026-11-25", "--format", "json")
    assert code == 0
    document = json.loads(out)
    DOCUMENT.validate(document)
    assert (document["rule"]["id"], document["client"], document["status"]) == ("DEC004", "kestrel", "nonconforming")
    assert document["rule"]["check"][0]["absent"][0]["where"] == ["client == d.client", "signed_date <= d.date"]
    code, out = run("explain", DEMO, "958c00979bd06037", "--as-of", "2026-11-25")
    assert code == 0
    assert out.startswith("DEC004: Certification granted only under a signed certification agreement\n")
    assert "Finding 958c00979bd06037\n" in out and "Remediation:\n" in out


def test_cli_unknown_fingerprint_is_exit_2_and_explains_nothing():
    code, out = run("explain", DEMO, "0123456789abcdef", "--as-of", "2026-11-25")
    assert code == 2
    assert "has no finding with fingerprint '0123456789abcdef'; it has " in out
    assert "Finding" not in out


def test_cli_a_rule_not_judged_says_so_and_explains_nothing():
    code, out = run("explain", DEMO, "--rule", "MAN001", "--cb-wide", "--as-of", "2026-11-25", "--format", "json")
    document = json.loads(out)
    DOCUMENT.validate(document)
    assert (code, document["status"], document["findings"], document["passed"]) == (0, "manual", [], None)
    assert document["rule"]["check"] == [] and document["reason"]


def test_cli_usage_errors_are_exit_2():
    assert run("explain", DEMO)[0] == 2
    assert run("explain", DEMO, "--rule", "DEC004")[0] == 2
    assert run("explain", DEMO, "958c00979bd06037", "--client", "kestrel")[0] == 2
    code, out = run("explain", DEMO, "--rule", "DEC004", "--client", "nobody", "--as-of", "2026-11-25")
    assert code == 2 and "no client with id 'nobody'" in out


def test_cli_rule_and_client_explains_findings_or_why_it_passed():
    code, out = run("explain", DEMO, "--rule", "dec004", "--client", "kestrel", "--as-of", "2026-11-25",
                    "--format", "json")
    document = json.loads(out)
    DOCUMENT.validate(document)
    assert code == 0 and [f["fingerprint"] for f in document["findings"]] == ["958c00979bd06037"]
    assert document["passed"] is None
    code, out = run("explain", DEMO, "--rule", "DEC004", "--client", "ravenscar", "--as-of", "2026-11-25",
                    "--format", "json")
    document = json.loads(out)
    DOCUMENT.validate(document)
    assert (code, document["status"], document["findings"]) == (0, "conforming", [])
    (alternative,) = document["passed"]
    grant = next(n for n in alternative["search"] if n["fact"] == "rv-dec-grant")
    blockers = [c["fact"] for clause in grant["absent"] for c in clause["candidates"] if c["satisfies"]]
    assert grant["outcome"] == "matched" and blockers == ["rv-agr-2020"]
    assert {n["outcome"] for n in alternative["search"] if n["fact"] != "rv-dec-grant"} == {"failed"}
    code, out = run("explain", DEMO, "--rule", "DEC004", "--client", "ravenscar", "--as-of", "2026-11-25")
    assert code == 0 and "No finding: why the requirement passed here\n" in out
    assert ("      no finding: absent clause 1 (certification_agreement) is met by\n"
            "        certification_agreement rv-agr-2020 (clients/ravenscar/application.yaml:57):\n"
            "          holds  client == d.client: client 'ravenscar' == 'ravenscar' (d.client)\n"
            "          holds  signed_date <= d.date: signed_date 2020-09-07 <= 2021-01-18 (d.date)\n") in out


def test_check_explain_adds_explanations_and_json_without_it_is_unchanged(tmp_path):
    args = ["check", DEMO, "--as-of", "2026-11-25", "--fail-on", "none", "--rule", "DEC004", "--rule", "CYC002", "-q"]
    assert run(*args, "--format", "json", "-o", tmp_path / "plain.json")[0] == 0
    assert run(*args, "--format", "json", "-o", tmp_path / "beside.json", "--also", f"html={tmp_path / 'r.html'}")[0] == 0
    assert run(*args, "--format", "json", "-o", tmp_path / "why.json", "--explain")[0] == 0
    plain = (tmp_path / "plain.json").read_bytes()
    assert plain == (tmp_path / "beside.json").read_bytes() and b'"explanation"' not in plain
    report = json.loads((tmp_path / "why.json").read_text(encoding="utf-8"))
    report_schema = json.loads((ROOT / "checker/report/report.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator(report_schema).validate(report)
    assert [f["rule_id"] for f in report["findings"]] == ["DEC004", "CYC002"]
    for finding in report["findings"]:
        FINDING_EXPLANATION.validate(finding["explanation"])
        assert finding["explanation"]["fingerprint"] == finding["fingerprint"]
        assert {k: v for k, v in finding.items() if k != "explanation"} in json.loads(plain)["findings"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    # Each finding's part of the page (up to the next finding) holds its "why".
    parts = {part[:16]: part for part in html.split('data-fingerprint="')[1:]}
    assert len(html.split('data-fingerprint="')) - 1 == len(parts) == len(report["findings"])
    assert set(parts) == {f["fingerprint"] for f in report["findings"]}
    assert all('<details class="why"><summary>Why: what the check compared</summary>' in p for p in parts.values())
    assert ("<code>signed_date &lt;= d.date</code>: signed_date 2021-04-26 &gt; 2021-04-12 (d.date), not &lt;=</li>"
            in html)


def test_every_pass_on_the_demo_is_explained_without_a_match_the_engine_did_not_report(demo):
    """For every judged rule and every client (and the CB-wide records) without a finding of it,
    the pass explanation's search finds no unblocked match (else ExplanationMismatch), and
    every comparison's words give the reference evaluator's verdict."""
    rules, params, loaded, report = demo
    explainer = Explainer(loaded.index, rules, params.values(), AS_OF)
    found = {(f["rule_id"], f["client"]) for f in report["findings"]}
    clients = sorted(r.id for r in loaded.index.by_id.values() if r.type == "client")
    status = {q["id"]: q["status"] for q in report["requirements"]}
    judged = {rule.id: rule for rule in rules if status[rule.id] in ("conforming", "nonconforming")}
    pairs = {(rule_id, client) for rule_id, rule in judged.items()
             for client in (clients if rule.scope == "client" else []) + [None]}
    assert found <= pairs
    for rule_id, client in sorted(pairs - found, key=str):
        alternatives = explainer.explain_pass(judged[rule_id], client if client is not None else CB_PARTITION)
        assert [a["alternative"] for a in alternatives] == list(range(1, len(judged[rule_id].checks) + 1))


def test_two_alternatives_firing_on_one_field_are_two_findings_each_explained(tmp_path):
    # REC001's alternatives both report on the grant's decision_type: a client granted with
    # neither an application nor its review (and no stage 1) has both problems. Each is its own
    # finding with its own fingerprint, and each is explained (an HTML report explains them all).
    import shutil
    folder = tmp_path / "cb"
    shutil.copytree(DEMO, folder)
    (folder / "clients" / "fenwick").mkdir()
    (folder / "clients" / "fenwick" / "records.yaml").write_text(
        "- {type: client, id: fenwick, name: Fenwick Hosting Ltd, address: '1 Quay St, Hull HU1 1AA, UK',\n"
        "   persons: 20, sites: [{name: Hull, address: '1 Quay St, Hull HU1 1AA', central: true}]}\n"
        "- {type: decision, id: fw-dec-grant, client: fenwick, decision_type: grant, date: 2025-03-03,\n"
        "   decided_by: [p-harris]}\n", encoding="utf-8")
    rules, params = shipped_rules()
    loaded = load_input(str(folder))
    assert not loaded.problems
    report = run_check(str(folder), rules, params, AS_OF, loaded=loaded)
    mine = [f for f in report["findings"] if f["rule_id"] == "REC001" and f["client"] == "fenwick"]
    assert sorted(f["variant"] for f in mine) == ["no application", "no application review (no stage 1 either)"]
    assert len({f["fingerprint"] for f in report["findings"]}) == len(report["findings"])
    explained = explain_report(report, loaded, rules, params, AS_OF)
    assert [explained[f["fingerprint"]]["variant"] for f in mine] == [f["variant"] for f in mine]
    code = CliRunner().invoke(main, ["check", str(folder), "--as-of", AS_OF.isoformat(), "--format", "html",
                                     "--output", str(tmp_path / "r.html"), "--fail-on", "none", "-q"]).exit_code
    assert code == 0
