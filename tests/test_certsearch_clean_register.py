"""A clean, realistic CertSearch register of dozens of SMS certificates gives no finding at all
on `check`: nothing the register states is misread as missing, and what it cannot state is
not_assessed. One planted gap in the same register gives exactly its one finding, so the
zero is the rules' verdict, not a run that judged nothing."""
from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from cli import main
from tests.certsearch_register import clean_register
from tests.helpers import workbook

AS_OF = dt.date(2026, 6, 1)
COUNT = 40


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
    # What the register cannot carry (the CB's name, a services list) is not judged, not passed.
    assert (status["CRT012"], status["CRT008"]) == ("not_assessed", "not_assessed")


def test_a_planted_gap_in_the_same_register_is_its_one_finding(tmp_path):
    sheets = clean_register(COUNT, AS_OF)
    sheets["Certification Sites"] = [row for row in sheets["Certification Sites"] if row[0] != "CERT-012"]
    code, report = _check(workbook(tmp_path / "register.xlsx", sheets))
    assert code == 1
    assert [(f["rule_id"], f["record_id"], f["pointer"]) for f in report["findings"]] == [
        ("CRT005", "CERT-012", "/sites")]
