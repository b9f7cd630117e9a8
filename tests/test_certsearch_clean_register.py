"""A clean, realistic CertSearch register of dozens of SMS certificates gives no finding at all
on `check`: nothing the register states is misread as missing, and what it cannot state is
not_assessed. One planted gap in the same register gives exactly its one finding, so the
zero is the rules' verdict, not a run that judged nothing."""
from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from cli import main
from tests.certsearch_register import PLANTED, clean_register, planted_register
from checker.engine.evaluate import evaluate
from checker.engine.reference import reference_findings
from checker.pipeline import load_input
from tests.helpers import shipped_rules, workbook

AS_OF = dt.date(2026, 6, 1)
COUNT = 40
REGISTER_RULES = {"CRT017", "CRT018", "CRT019", "CRT020", "CRT021", "INF004"}


def _check(path) -> tuple[int, dict]:
    # --fail-on observation: exit 0 only when there is no finding of any severity.
    result = CliRunner().invoke(main, ["check", str(path), "--as-of", AS_OF.isoformat(), "--format", "json",
                                       "--fail-on", "observation"])
    return result.exit_code, json.loads(result.stdout)


def test_clean_register_gives_no_findings(tmp_path):
    sheets = clean_register(COUNT, AS_OF)
    assert len(sheets["Certifications"]) == COUNT + 1 and len(sheets["Certification Sites"]) > COUNT + 1
    code, report = _check(workbook(tmp_path / "register.xlsx", sheets))
    assert (code, report["findings"]) == (0, [])
    status = {r["id"]: r["status"] for r in report["requirements"]}
    # Judged on the register and conforming: the certificate's content, and no expired one shown active.
    assert (status["CRT005"], status["CRT006"]) == ("conforming", "conforming")
    # The scope texts name the services, the sites give the locations: CRT008 is judged whole.
    assert status["CRT008"] == "conforming"
    # What the register cannot carry (the CB's name) is not judged, not passed; the rest of that
    # requirement is (the client's name and address).
    assert status["CRT012"] == "not_assessed"
    # The register checks are judged on it, and pass: cycle from the certificate's own dates,
    # expiry after issue, no suspension past expiry, numbers, editions, addresses.
    assert {status[r] for r in REGISTER_RULES} == {"conforming"}
    crt012 = next(r for r in report["requirements"] if r["id"] == "CRT012")
    assert [(a["label"], a["assessed"]) for a in crt012["based_on"]["alternatives"]] == [
        ("no client name", True), ("no client address", True), ("no CB name", False)]
    assert crt012["reason"] == ("partly assessed: judged 'no client name', 'no client address'; not assessed "
                                "'no CB name' (the source cannot carry certificate.cb_name (marked not in source "
                                "on every record))")


def test_a_planted_gap_in_the_same_register_is_its_one_finding(tmp_path):
    sheets = clean_register(COUNT, AS_OF)
    sheets["Certification Sites"] = [row for row in sheets["Certification Sites"] if row[0] != "CERT-012"]
    code, report = _check(workbook(tmp_path / "register.xlsx", sheets))
    assert code == 1
    # A certificate without sites lists no site (17021-1 8.2.2) and, for an SMS, no location its
    # services are delivered from (20000-6 SM 8.2): CRT008's location part is judged on a register.
    assert [(f["rule_id"], f["record_id"], f["pointer"]) for f in report["findings"]] == [
        ("CRT005", "CERT-012", "/sites"), ("CRT008", "CERT-012", "/service_locations")]


def test_the_planted_register_gives_exactly_its_planted_findings(tmp_path):
    """Every register check, and a few the catalog had, on one register: each planted problem
    is found, on its record and field, and nothing else; the register checks are judged."""
    code, report = _check(workbook(tmp_path / "planted.xlsx", planted_register(COUNT, AS_OF)))
    assert (code, report["errors"]) == (1, [])
    got = sorted((f["rule_id"], f["client"], f["record_id"], f["pointer"].rsplit("/", 1)[-1])
                 for f in report["findings"])
    assert got == sorted(PLANTED, key=lambda f: (f[0], f[1] or "", f[2], f[3]))
    shared = next(f for f in report["findings"] if f["rule_id"] == "CRT020")
    assert "CERT-020 (ENT-020), CERT-021 (ENT-021)" in shared["message"]


def test_the_reference_evaluator_agrees_on_the_planted_register(tmp_path):
    loaded = load_input(workbook(tmp_path / "planted.xlsx", planted_register(COUNT, AS_OF)))
    rules, params = shipped_rules(REGISTER_RULES)
    engine = evaluate(loaded.index, rules, params.values(), AS_OF)
    assert engine.partition_errors == [] and engine.duplicate_firings == 0
    assert engine.findings == reference_findings(loaded.index, rules, params.values(), AS_OF)
    assert sorted({f["rule_id"] for f in engine.findings}) == sorted(REGISTER_RULES)


SCOPE = 6      # the Certification Scope column of the Certifications sheet


def test_planted_vague_scopes_are_the_findings(tmp_path):
    """Scopes an assessor would raise (no service named) draw CRT008, each on its certificate;
    the realistic scopes around them do not."""
    sheets = clean_register(COUNT, AS_OF)
    rows = sheets["Certifications"]
    assert rows[0][SCOPE] == "Certification Scope"
    vague = {"CERT-003": "IT services", "CERT-015": "As per contract", "CERT-021": "ISO/IEC 20000-1:2018",
             "CERT-033": "Provision of IT service management services to customers"}
    for row in rows[1:]:
        row[SCOPE] = vague.get(row[0], row[SCOPE])
    code, report = _check(workbook(tmp_path / "register.xlsx", sheets))
    assert code == 1
    assert [(f["rule_id"], f["record_id"], f["pointer"]) for f in report["findings"]] == [
        ("CRT008", cert, "/scope") for cert in sorted(vague)]
    assert all(f'names no service ("{vague[f["record_id"]]}")' in f["message"] for f in report["findings"])
