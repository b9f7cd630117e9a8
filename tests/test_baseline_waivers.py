"""Baselines and waivers on real pipeline reports: fingerprints survive unrelated edits, a
baseline tells new from persisting from resolved (and never claims a fix it did not check),
waivers keep findings visible but out of exit codes, and every bad input is a located problem."""
import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from benchmarks.generate_cb import generate
from checker.errors import ProblemsFound
from checker.pipeline import run_check
from checker.report import json_out
from checker.report.baseline import BaselineError, apply_baseline, exit_code_new, load_report
from checker.report.model import exit_code
from checker.report.waivers import Waiver, apply_waivers, load_waivers
from tests.helpers import shipped_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Draft202012Validator(json.loads((ROOT / "checker/report/report.schema.json").read_text()))
AS_OF = dt.date(2025, 11, 1)


@pytest.fixture(scope="module")
def catalog():
    return shipped_rules()


def make_cb(folder: Path, clients: int = 30) -> Path:
    generate(folder, clients, layout="folders")
    return folder


def records_of(folder: Path, client: str) -> tuple[Path, list[dict]]:
    path = folder / "clients" / client / "records.yaml"
    return path, yaml.safe_load(path.read_text(encoding="utf-8"))


def edit_record(folder: Path, record_id: str, **changes) -> None:
    client = record_id.split("-")[0]
    path, recs = records_of(folder, client)
    (rec,) = [r for r in recs if r["id"] == record_id]
    rec.update(changes)
    path.write_text(yaml.safe_dump(recs, sort_keys=False), encoding="utf-8")


def check(folder, catalog, only=None) -> dict:
    rules, params = shipped_rules(only) if only else catalog
    return run_check(folder, rules, params, AS_OF)


@pytest.fixture(scope="module")
def base(tmp_path_factory, catalog):
    """A generated CB and its report; the generator plants a few gaps of more than one rule."""
    folder = make_cb(tmp_path_factory.mktemp("base") / "cb")
    report = check(folder, catalog)
    assert not report["errors"]
    assert len({f["rule_id"] for f in report["findings"]}) >= 2, "the tests below need findings of two rules"
    return folder, report


def by_fingerprint(report):
    return {f["fingerprint"]: f for f in report["findings"]}


# --- fingerprints ---------------------------------------------------------------------------

def test_fingerprints_survive_unrelated_edits(tmp_path, base, catalog):
    _, before = base
    folder = make_cb(tmp_path / "cb", clients=31)            # one client more
    # Move lines: reverse the record order of every client file that has a finding and put
    # comment lines on top, so every finding's record is on another line than before.
    for client in sorted({f["client"] for f in before["findings"] if f["client"]}):
        path, recs = records_of(folder, client)
        path.write_text("# exported again\n# reordered\n" + yaml.safe_dump(recs[::-1], sort_keys=False), encoding="utf-8")
    # Reorder files: a client's file renamed so it sorts first, another moved under a new folder.
    (folder / "clients/cl00029/records.yaml").rename(folder / "clients/cl00029/0-first.yaml")
    (folder / "clients/cl00003").rename(folder / "clients/zz-moved")
    after = check(folder, catalog)
    assert not after["errors"] and after["input"]["clients"] == 31

    old, new = by_fingerprint(before), by_fingerprint(after)
    assert set(old) <= set(new)
    for fp, finding in old.items():
        moved = new[fp]
        # The pointer starts with the record's place in its file, which moved; the field did not.
        assert (moved["rule_id"], moved["client"], moved["record_id"], moved["pointer"].split("/")[2:]) == \
               (finding["rule_id"], finding["client"], finding["record_id"], finding["pointer"].split("/")[2:])
        assert moved["line"] != finding["line"]               # the edit really moved it: the test can fail

    diff = apply_baseline(after, before)
    assert diff["baseline"]["persisting"] == len(old)
    assert diff["baseline"]["new"] == len(new) - len(old)
    assert diff["baseline"]["resolved"] == diff["baseline"]["unverified"] == 0


def test_a_changed_record_changes_only_its_findings(tmp_path, base, catalog):
    _, before = base
    folder = make_cb(tmp_path / "cb")
    gap = next(f for f in before["findings"] if f["rule_id"] == "CRT001")
    decision = next(r["record_id"] for r in gap["related"] if r["record_type"] == "decision")
    _, recs = records_of(folder, gap["client"])
    decided = next(r["date"] for r in recs if r["id"] == decision)
    edit_record(folder, gap["record_id"], effective_date=decided)                       # the fix
    _, recs = records_of(folder, "cl00003")
    renewed = dt.date.fromisoformat(next(r["date"] for r in recs if r["id"] == "cl00003-d1"))
    edit_record(folder, "cl00003-cert2", effective_date=(renewed - dt.timedelta(days=3)).isoformat())  # a new gap
    after = check(folder, catalog)

    diff = apply_baseline(after, before)
    SCHEMA.validate(diff)
    assert [f["fingerprint"] for f in diff["resolved_findings"]] == [gap["fingerprint"]]
    assert diff["resolved_findings"][0]["baseline_status"] == "resolved"
    (fresh,) = [f for f in diff["findings"] if f["baseline_status"] == "new"]
    assert (fresh["rule_id"], fresh["record_id"]) == ("CRT001", "cl00003-cert2")
    persisting = {f["fingerprint"] for f in diff["findings"] if f["baseline_status"] == "persisting"}
    assert persisting == set(by_fingerprint(before)) - {gap["fingerprint"]}
    assert diff["baseline"] == {"as_of": before["as_of"], "new": 1, "persisting": len(persisting), "resolved": 1,
                                "unverified": 0, "previous_errors": 0}
    assert exit_code(diff, "major") == 1 and exit_code_new(diff, "major") == 1

    # Waive the new gap: it stays listed, the nightly run passes on new findings.
    waived = apply_baseline(apply_waivers(after, [Waiver("CRT001", "agreed", "QM", "2026-01-31",
                                                         record="cl00003-cert2", file="w.yaml", line=1)],
                                          after["as_of"]), before)
    assert exit_code_new(waived, "major") == 0
    assert [f["waived"] for f in waived["findings"] if f["baseline_status"] == "new"] == [True]
    # The persisting gaps still fail a run that does not use --fail-on-new.
    assert exit_code(waived, "major") == 1


# --- baseline semantics ---------------------------------------------------------------------

def test_unchecked_rules_are_unverified_not_resolved(base, catalog):
    folder, before = base
    kept = sorted({f["rule_id"] for f in before["findings"]})[0]
    narrow = check(folder, catalog, only={kept})                 # like --rule: the others are not evaluated
    diff = apply_baseline(narrow, before)
    gone = [f for f in before["findings"] if f["rule_id"] != kept]
    assert diff["baseline"]["resolved"] == 0
    assert [f["fingerprint"] for f in diff["unverified_findings"]] == [f["fingerprint"] for f in gone]
    assert {f["baseline_status"] for f in diff["unverified_findings"]} == {"unverified"}


def test_a_run_with_input_errors_resolves_nothing_and_exits_2(tmp_path, base, catalog):
    _, before = base
    folder = make_cb(tmp_path / "cb")
    (folder / "broken.yaml").write_text("- {type: audit, id: x}\n", encoding="utf-8")
    after = check(folder, catalog)
    assert after["errors"]
    diff = apply_baseline(after, before)
    # The broken record is CB-wide (it names no client), so the CB-wide partition is withheld:
    # every automated requirement shows error, and what the clients' partitions did not find
    # again is unverified, never resolved.
    assert diff["baseline"]["resolved"] == 0
    assert diff["baseline"]["unverified"] + diff["baseline"]["persisting"] == len(before["findings"])
    assert exit_code_new(diff, "none") == 2


def test_duplicate_fingerprints_are_counted_not_merged(base):
    _, report = base
    first = report["findings"][0]
    twice = copy.deepcopy(report)
    twice["findings"] = [first, copy.deepcopy(first)]
    once = copy.deepcopy(report)
    once["findings"] = [first]
    grown = apply_baseline(twice, once)
    assert [f["baseline_status"] for f in grown["findings"]] == ["persisting", "new"]
    shrunk = apply_baseline(once, twice)
    assert shrunk["baseline"]["resolved"] == 1 and shrunk["baseline"]["persisting"] == 1


def test_exit_code_new_respects_fail_on_and_needs_a_baseline(base):
    _, report = base
    minor = copy.deepcopy(report)
    for f in minor["findings"]:
        f["severity"] = "minor"
    empty = copy.deepcopy(report)
    empty["findings"] = []
    diff = apply_baseline(minor, empty)
    assert diff["baseline"]["new"] == len(report["findings"])
    assert exit_code_new(diff, "major") == 0
    assert exit_code_new(diff, "minor") == 1
    assert exit_code_new(diff, "none") == 0
    with pytest.raises(ValueError):
        exit_code_new(report, "major")


def test_baseline_output_is_deterministic_and_leaves_inputs_alone(base):
    _, report = base
    previous = copy.deepcopy(report)
    previous["findings"] = previous["findings"][1:]
    snapshot = json.dumps([report, previous])
    one = json_out.render(apply_baseline(report, previous))
    two = json_out.render(apply_baseline(copy.deepcopy(report), copy.deepcopy(previous)))
    assert one == two
    assert json.dumps([report, previous]) == snapshot


def test_a_baselined_report_can_be_the_next_baseline(tmp_path, base):
    _, report = base
    path = tmp_path / "prev.json"
    path.write_text(json_out.render(apply_baseline(report, report)), encoding="utf-8")
    previous, problems = load_report(path)
    assert problems == []
    assert apply_baseline(report, previous)["baseline"]["persisting"] == len(report["findings"])


# --- load_report: every way a previous report can be wrong ----------------------------------

def test_load_report_reads_a_written_report(tmp_path, base):
    _, report = base
    path = tmp_path / "r.json"
    path.write_text(json_out.render(report), encoding="utf-8")
    assert load_report(path) == (report, [])


@pytest.mark.parametrize("body, message, line", [
    (None, "cannot read", None),
    ('{"report_format": "cbcheck-report/1",\n  "as_of": }', "not valid JSON", 2),
    ("[1, 2]", "holds a JSON list", 1),
    ('{"version": "2.1.0", "runs": []}', "no report_format", 1),
    ('{"report_format": "cbcheck-report/2"}', "report_format is 'cbcheck-report/2'", 1),
    (b"\xff\xfe{", "not UTF-8", None),
])
def test_load_report_explains_what_is_wrong(tmp_path, body, message, line):
    path = tmp_path / "prev.json"
    if isinstance(body, bytes):
        path.write_bytes(body)
    elif body is not None:
        path.write_text(body, encoding="utf-8")
    report, problems = load_report(path)
    assert report is None
    (problem,) = problems
    assert message in problem.message and problem.file == str(path) and problem.line == line
    assert "cbcheck check --format json" in problem.expected


def test_load_report_locates_a_malformed_finding(tmp_path, base):
    _, report = base
    broken = copy.deepcopy(report)
    del broken["findings"][1]["fingerprint"]
    broken["findings"][0]["severity"] = "critical"
    text = json_out.render(broken)
    path = tmp_path / "prev.json"
    path.write_text(text, encoding="utf-8")
    loaded, problems = load_report(path)
    assert loaded is None
    assert [p.pointer for p in problems] == ["/findings/0/severity", "/findings/1"]
    lines = text.splitlines()
    assert '"severity": "critical"' in lines[problems[0].line - 1]
    assert "fingerprint" in problems[1].message


def test_load_report_accepts_keys_from_a_newer_cbcheck(tmp_path, base):
    _, report = base
    newer = dict(copy.deepcopy(report), added_later={"x": 1})
    newer["findings"][0]["added_later"] = True
    path = tmp_path / "prev.json"
    path.write_text(json.dumps(newer), encoding="utf-8")
    assert load_report(path)[1] == []


def test_apply_baseline_refuses_a_non_report(base):
    _, report = base
    with pytest.raises(BaselineError) as err:
        apply_baseline(report, {"report_format": "sarif"}, source="old.json")
    assert isinstance(err.value, ProblemsFound)
    (problem,) = err.value.problems
    assert problem.file == "old.json" and problem.pointer == "/report_format"


# --- waivers: loading -----------------------------------------------------------------------

GOOD = """\
# accepted gaps, reviewed monthly
- rule: CRT001
  client: cl00007
  justification: Certificate reissued; old one withdrawn.
  approver: J. Smith, QM
  expires: 2026-03-31
- rule: CYC003
  fingerprint: 0123456789abcdef
  justification: Surveillance moved with the AB's agreement.
  approver: J. Smith, QM
  expires: 2025-12-31
"""


def load_text(tmp_path, text, rule_ids=frozenset({"CRT001", "CYC003"})):
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    return path, load_waivers(path, rule_ids)


def test_load_waivers_reads_every_field_with_its_line(tmp_path):
    path, (waivers, problems) = load_text(tmp_path, GOOD)
    assert problems == []
    assert waivers == [
        Waiver("CRT001", "Certificate reissued; old one withdrawn.", "J. Smith, QM", "2026-03-31",
               client="cl00007", file=str(path), line=2),
        Waiver("CYC003", "Surveillance moved with the AB's agreement.", "J. Smith, QM", "2025-12-31",
               fingerprint="0123456789abcdef", file=str(path), line=7),
    ]


def test_load_waivers_lists_every_problem_located(tmp_path):
    text = """\
- rule: CRT01
  justification: x
  approver: y
  expires: 2026-02-30
  expiry: 2026-01-01
- rule: CYC003
  approver: ""
  expires: 20261231
  fingerprint: ABC
- just text
"""
    path, (waivers, problems) = load_text(tmp_path, text)
    assert waivers == []
    got = [(p.line, p.pointer, p.message) for p in problems]
    assert got == [
        (1, "/0/rule", "no rule 'CRT01' in the catalog (did you mean 'CRT001'?)"),
        (4, "/0/expires", "'expires' is not a date: '2026-02-30'"),
        (5, "/0/expiry", "unknown key 'expiry' (did you mean 'expires'?)"),
        (6, "/1", "missing 'justification'"),
        (7, "/1/approver", "'approver' must be non-empty text, got ''"),
        (8, "/1/expires", "'expires' must be non-empty text, got 20261231"),
        (9, "/1/fingerprint", "not a finding fingerprint: 'ABC'"),
        (10, "/2", "a waiver must be a mapping, not str"),
    ]
    assert all(p.file == str(path) and p.expected for p in problems)


def test_unknown_rules_are_only_checked_against_a_given_catalog(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("- {rule: NOPE1, justification: j, approver: a, expires: 2026-01-01}\n", encoding="utf-8")
    assert load_waivers(path)[1] == []
    assert load_waivers(path, {"CRT001"})[1][0].pointer == "/0/rule"


@pytest.mark.parametrize("text, message, line", [
    ("rule: CRT001\n", "holds a dict, not a list", 1),
    ("- {rule: CRT001, rule: CYC003, justification: j, approver: a, expires: 2026-01-01}\n", "duplicate key 'rule'", 1),
    ("- rule: [CRT001\n", "not valid YAML", 2),
    ("- {rule: CRT001, justification: j, approver: a, expires: 2026-01-01}\n---\n- {}\n", "2 YAML documents", 3),
])
def test_load_waivers_rejects_a_malformed_file(tmp_path, text, message, line):
    _, (waivers, problems) = load_text(tmp_path, text)
    assert waivers == []
    assert len(problems) == 1 and message in problems[0].message and problems[0].line == line


def test_load_waivers_missing_and_empty_files(tmp_path):
    waivers, problems = load_waivers(tmp_path / "absent.yaml")
    assert waivers == [] and "cannot read the waiver file" in problems[0].message
    (tmp_path / "empty.yaml").write_text("# all waivers lifted\n", encoding="utf-8")
    assert load_waivers(tmp_path / "empty.yaml") == ([], [])


# --- waivers: applying ----------------------------------------------------------------------

def waiver(finding, expires, **narrow):
    return Waiver(finding["rule_id"], "because", "QM", expires, file="w.yaml", line=narrow.pop("line", 1), **narrow)


def test_an_unexpired_waiver_keeps_the_finding_visible_but_out_of_exit_codes(base):
    _, report = base
    target = next(f for f in report["findings"] if f["rule_id"] == "CRT001")
    others = [f for f in report["findings"] if f["rule_id"] == "CRT001" and f is not target]
    out = apply_waivers(report, [waiver(target, report["as_of"], record=target["record_id"])], report["as_of"])
    SCHEMA.validate(out)
    assert len(out["findings"]) == len(report["findings"])
    (done,) = [f for f in out["findings"] if f["waived"]]
    assert done["fingerprint"] == target["fingerprint"]
    assert done["waiver"] == {"justification": "because", "approver": "QM", "expires": report["as_of"],
                              "file": "w.yaml", "line": 1}
    assert out["summary"]["waived"] == 1 and out["summary"]["findings"] == report["summary"]["findings"]
    req = next(r for r in out["requirements"] if r["id"] == "CRT001")
    assert req["status"] == "nonconforming" and req["waived_count"] == 1 == req["finding_count"] - len(others)
    assert all(r["waived_count"] == 0 for r in out["requirements"] if r["id"] != "CRT001")
    assert out["waivers"] == {"total": 1, "applied": 1, "expired": [], "unmatched": []}
    assert "waived" not in report["findings"][0]                       # the input is not modified

    rest = [f for f in report["findings"] if f is not target]
    assert exit_code(out, "major") == (1 if any(f["severity"] == "major" for f in rest) else 0)
    all_waived = apply_waivers(report, [waiver(f, "2099-01-01", fingerprint=f["fingerprint"])
                                        for f in report["findings"]], report["as_of"])
    assert exit_code(report, "observation") == 1 and exit_code(all_waived, "observation") == 0
    assert all(r["waived_count"] == r["finding_count"] for r in all_waived["requirements"])


def test_an_expired_waiver_reactivates_its_finding_and_is_reported(base):
    _, report = base
    target = report["findings"][0]
    day_before = (dt.date.fromisoformat(report["as_of"]) - dt.timedelta(days=1)).isoformat()
    out = apply_waivers(report, [waiver(target, day_before, fingerprint=target["fingerprint"], line=4)], report["as_of"])
    SCHEMA.validate(out)
    hit = next(f for f in out["findings"] if f["fingerprint"] == target["fingerprint"])
    assert hit["waived"] is False and "waiver" not in hit
    assert hit["waiver_expired"]["expires"] == day_before and hit["waiver_expired"]["line"] == 4
    (entry,) = out["waivers"]["expired"]
    assert entry["findings"] == 1 and entry["fingerprint"] == target["fingerprint"]
    assert out["waivers"]["applied"] == 0 and out["summary"]["waived"] == 0
    assert exit_code(out, target["severity"]) == 1


def test_unmatched_waivers_are_listed_and_narrowing_keys_narrow(base):
    _, report = base
    target = report["findings"][0]
    waivers = [
        waiver(target, "2099-01-01", client="someone-else", line=1),
        waiver(target, "2099-01-01", record="another-record", line=2),
        waiver(target, "2099-01-01", fingerprint="0" * 16, line=3),
        Waiver("MAN001", "manual rules have no findings", "QM", "2099-01-01", file="w.yaml", line=4),
    ]
    out = apply_waivers(report, waivers, report["as_of"])
    assert out["summary"]["waived"] == 0
    assert [e["line"] for e in out["waivers"]["unmatched"]] == [1, 2, 3, 4]
    assert all(e["findings"] == 0 for e in out["waivers"]["unmatched"])


def test_the_longest_running_waiver_covers_a_finding(base):
    _, report = base
    target = report["findings"][0]
    waivers = [waiver(target, "2099-01-01", line=1), waiver(target, "2099-06-30", line=2),
               waiver(target, "2099-06-30", line=3), waiver(target, "2020-01-01", line=4)]
    out = apply_waivers(report, waivers, report["as_of"])
    hit = next(f for f in out["findings"] if f["fingerprint"] == target["fingerprint"])
    assert hit["waiver"]["line"] == 2
    same_rule = sum(f["rule_id"] == target["rule_id"] for f in report["findings"])
    assert out["waivers"]["applied"] == 3 and out["waivers"]["expired"][0]["findings"] == same_rule
    # Every waiver is accounted for exactly once.
    w = out["waivers"]
    assert w["applied"] + len(w["expired"]) + len(w["unmatched"]) == w["total"] == len(waivers)


def test_waivers_then_baseline_report_is_schema_valid_and_deterministic(tmp_path, base):
    _, report = base
    path, (waivers, problems) = load_text(tmp_path, GOOD)
    assert problems == []
    previous = copy.deepcopy(report)
    previous["findings"] = previous["findings"][:1]
    outs = {json_out.render(apply_baseline(apply_waivers(report, waivers, report["as_of"]), previous)) for _ in range(2)}
    assert len(outs) == 1
    SCHEMA.validate(json.loads(outs.pop()))


def test_apply_waivers_rejects_a_bad_as_of(base):
    with pytest.raises(ValueError):
        apply_waivers(base[1], [], "1 Nov 2025")
