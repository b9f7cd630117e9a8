"""The bundled demo CB: the report finds every planted gap listed in fixtures/demo-cb.expected.yaml,
nothing else, and nothing at all on the clean clients."""
import datetime as dt
from collections import Counter
from pathlib import Path

import yaml

from checker.pipeline import load_input, run_check
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
EXPECTED = yaml.safe_load((ROOT / "fixtures" / "demo-cb.expected.yaml").read_text(encoding="utf-8"))
CLEAN_CLIENTS = {"northwind", "bluefin", "meridian"}

RULES, PARAMS = shipped_rules()
REPORT = run_check(DEMO, RULES, PARAMS, dt.date(2026, 11, 25))


def test_demo_reads_without_errors():
    assert REPORT["errors"] == []
    assert REPORT["input"]["files_ignored"] == []


def test_demo_finds_exactly_the_planted_gaps():
    want = Counter((e["rule"], e["record"], e["client"]) for e in EXPECTED)
    got = Counter((f["rule_id"], f["record_id"], f["client"]) for f in REPORT["findings"])
    assert got == want, {"missed": want - got, "unplanned": got - want}


def test_clean_clients_exist_and_have_no_findings():
    present = {r.id for r in load_input(DEMO).read.records if r.type == "client"}
    assert CLEAN_CLIENTS <= present and len(present - CLEAN_CLIENTS) >= 3
    assert not {f["client"] for f in REPORT["findings"]} & CLEAN_CLIENTS


def test_demo_exercises_every_automated_rule_family():
    families = {r.id.rstrip("0123456789") for r in RULES if r.automated}
    planted = {e["rule"].rstrip("0123456789") for e in EXPECTED}
    assert families <= planted
