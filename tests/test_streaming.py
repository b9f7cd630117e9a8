"""A streamed check (records/stream.py, engine/streamed.py) reports exactly what a check over the
whole index reports, and keeps only stubs of the client records after its first pass."""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
import yaml

from benchmarks.generate_cb import generate
import checker.pipeline as pipeline
from checker.pipeline import load_input, load_rules, run_check
from checker.records.index import build_index
from checker.records.reader import Record, read_records
from checker.records.spill import spill_folder
from checker.records.stream import Stub, WholeInputNeeded, first_pass, read_back

AS_OF = dt.date(2025, 11, 1)


@pytest.fixture(scope="module")
def catalog():
    loaded = load_rules(None, None)
    assert not loaded.problems
    return loaded.rules, loaded.params


def _same_as_whole(folder: Path, catalog, jobs: int = 1) -> dict:
    streamed = run_check(folder, *catalog, AS_OF, jobs, stream=True)
    whole = run_check(folder, *catalog, AS_OF, jobs, loaded=load_input(folder))
    assert json.dumps(streamed, sort_keys=True) == json.dumps(whole, sort_keys=True)
    return streamed


def _jsonl(tmp_path: Path, clients: int = 5) -> Path:
    folder = tmp_path / "jsonl"
    generate(folder, clients, layout="jsonl")
    return folder


def _edit_line(path: Path, number: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("".join(lines), encoding="utf-8")


def test_the_demo_streamed_gives_the_whole_index_report(catalog):
    report = _same_as_whole(Path(__file__).resolve().parents[1] / "fixtures" / "demo-cb", catalog, jobs=2)
    assert report["findings"] and not report["errors"]


def test_a_generated_export_streamed_gives_the_whole_index_report(tmp_path, catalog):
    report = _same_as_whole(_jsonl(tmp_path), catalog)
    assert report["input"]["partitions"] == 6 and not report["errors"]


def test_after_the_first_pass_only_shared_records_keep_their_data(tmp_path):
    folder = tmp_path / "folders"
    generate(folder, 3, layout="folders")
    first = first_pass(folder)
    kept = {rid for rid, entry in first.index.by_id.items() if isinstance(entry, Record)}
    shared = {rid for rid, client in first.index.owner_client.items() if client is None}
    assert kept == shared and {first.index.by_id[rid].type for rid in kept} == {"cb", "personnel"}
    stubs = [entry for entry in first.index.by_id.values() if isinstance(entry, Stub)]
    records, unchanged = read_back(first.files, stubs)
    assert unchanged and [r.id for r in records] == [r.id for r in read_records(folder).records if r.id not in kept]


def test_input_errors_in_one_client_withhold_it_as_the_whole_index_run_does(tmp_path, catalog):
    folder = _jsonl(tmp_path)
    clients = folder / "clients.jsonl"
    _edit_line(clients, 3, lambda line: line.replace('"date": "', '"date": "x', 1))     # a review's date
    audit = next(n for n, line in enumerate(clients.read_text().splitlines(), 1) if '"id": "cl00001-a1"' in line)
    _edit_line(clients, audit, lambda line: line.replace('"client": "cl00001"', '"client": "cl00099"', 1))
    report = _same_as_whole(folder, catalog)
    assert report["summary"]["not_evaluated"]["input_errors"] == ["__cb__", "cl00000", "cl00001"]
    assert len(report["errors"]) >= 2


def _on_the_cap_and_numbered_alike(record: dict) -> dict:
    """A generated record edited so both CB-wide kinds have findings: the first four clients'
    reviews list 40 % of reductions and land on the 30 % cap (TIME006); cl00001's and cl00003's
    first certificates carry cl00000's number (CRT020), cl00002's second its first's (one
    client's: none)."""
    numbers = {"cl00001-cert1": "sms-00000-1 ", "cl00003-cert1": "SMS-00000 -1", "cl00002-cert2": "SMS-00002-1"}
    if record["type"] == "application_review" and record["id"] < "cl00004":
        at = record["audit_time"]
        return {**record, "audit_time": {**at, "adjustments": [{"factor": "maturity", "percent": -40}],
                                         "initial_audit_days": round(at["initial_audit_days"] * 0.7, 2)}}
    return {**record, "number": numbers[record["id"]]} if record["id"] in numbers else record


@pytest.mark.parametrize("layout", ["jsonl", "folders"])
def test_cb_wide_findings_streamed_are_the_whole_index_ones(tmp_path, catalog, layout):
    """The CB-wide kinds tallied from each client's share (engine/streamed.CbInputs) find, and
    locate, what they find over every record at once."""
    folder = tmp_path / layout
    generate(folder, 6, layout=layout)
    for path in folder.rglob("*.jsonl"):
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("".join(json.dumps(_on_the_cap_and_numbered_alike(json.loads(line))) + "\n" for line in lines),
                        encoding="utf-8")
    for path in folder.rglob("records.yaml"):
        records = [_on_the_cap_and_numbered_alike(r) for r in yaml.safe_load(path.read_text(encoding="utf-8"))]
        path.write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    report = _same_as_whole(folder, catalog)
    found = {f["rule_id"]: f for f in report["findings"] if f["client"] is None}
    assert found["TIME006"]["record_id"] == "cl00000-rev" and "4 of the 4" in found["TIME006"]["message"]
    assert found["CRT020"]["record_id"] == "cl00000-cert1" and found["CRT020"]["line"] > 1
    assert "cl00000-cert1 (cl00000), cl00001-cert1 (cl00001), cl00003-cert1 (cl00003)" in found["CRT020"]["message"]


def test_records_before_their_owner_and_files_of_several_clients(tmp_path, catalog):
    """Owners and references read after the records naming them are resolved at the end; a YAML
    file holding two clients' records is kept whole (and still judged per client)."""
    folder = tmp_path / "mixed"
    generate(folder, 4, layout="folders")
    files = sorted((folder / "clients").glob("*/records.yaml"))
    first, second = (yaml.safe_load(f.read_text(encoding="utf-8")) for f in files[:2])
    random.Random(3).shuffle(first)
    (folder / "clients" / "both.yaml").write_text(yaml.safe_dump(first + second, sort_keys=False), encoding="utf-8")
    for f in files[:2]:
        f.unlink()
    streamed = first_pass(folder)
    assert any(isinstance(streamed.index.by_id[r["id"]], Record) for r in second)
    _same_as_whole(folder, catalog)


def test_the_index_is_the_same_whatever_order_the_records_come_in(tmp_path):
    folder = tmp_path / "order"
    generate(folder, 3, layout="folders")
    records = read_records(folder).records
    records.append(Record(dict(records[-1].data, persons=3), records[-1].file, records[-1].document, "/x"))
    forward, forward_problems = build_index(records)
    backward, backward_problems = build_index(list(reversed(records)))
    assert forward.owner_client == backward.owner_client
    assert forward.client_shared == backward.client_shared
    assert [p.message.split(";")[0] for p in forward_problems] == [p.message.split(";")[0] for p in backward_problems]


def test_a_line_only_the_whole_input_reader_can_judge_sends_the_run_there(tmp_path, catalog):
    """A line that is not JSON stops the first pass; a duplicate key (which the first pass's
    quick parse does not look for) is found when the worker reads the line again."""
    folder = _jsonl(tmp_path, 2)
    _edit_line(folder / "clients.jsonl", 4, lambda line: line.replace("{", '{"id": "twice", ', 1))
    first_pass(folder)
    report = _same_as_whole(folder, catalog)
    assert any("duplicate key" in e["message"] for e in report["errors"]) and not report["findings"]
    _edit_line(folder / "clients.jsonl", 5, lambda line: line.replace("{", "{{", 1))
    with pytest.raises(WholeInputNeeded):
        first_pass(folder)
    assert any("not valid JSON" in e["message"] for e in _same_as_whole(folder, catalog)["errors"])


def test_a_file_changed_after_the_first_pass_is_noticed(tmp_path):
    folder = _jsonl(tmp_path, 2)
    first = first_pass(folder)
    _edit_line(folder / "clients.jsonl", 2, lambda line: line.replace('"persons"', '"persons" ', 1))
    stubs = [entry for entry in first.index.by_id.values() if isinstance(entry, Stub)]
    _records, unchanged = read_back(first.files, stubs)
    assert not unchanged


# Lines the first pass's quick parse (records/located.quick_json_line, orjson) reads otherwise
# than the whole-input reader, or not at all: each run must report what the whole-input run does.
_ODD_LINES = {
    "a duplicate key in a shared record": ("people.jsonl", 3, lambda line: line.replace("{", '{"name": "x", ', 1)),
    # orjson reads it as a float: the schema's message on it shows which was read
    "an integer beyond 64 bits in a shared record": (
        "people.jsonl", 3, lambda line: line.replace('"Person 1"', "18446744073709551616", 1)),
    "an integer beyond 64 bits in a client's record": (
        "clients.jsonl", 2, lambda line: line.replace('"Managed IT services"', "18446744073709551616", 1)),
    "nesting deeper than the readers take": (
        "clients.jsonl", 2, lambda line: line.replace("{", '{"x-deep": ' + "[" * 70 + "]" * 70 + ", ", 1)),
    "a line separator inside a string": (
        "clients.jsonl", 2, lambda line: line.replace("Managed IT", "Managed\u2028IT", 1)),
    "a carriage return inside a line": (
        "clients.jsonl", 2, lambda line: line.replace(', "persons"', ',\r "persons"', 1)),
    "a first line with a byte-order mark": ("clients.jsonl", 1, lambda line: "\ufeff" + line),
}


@pytest.mark.parametrize("edit", sorted(_ODD_LINES))
def test_a_line_the_quick_parse_reads_otherwise_gives_the_whole_input_report(tmp_path, catalog, edit):
    name, number, change = _ODD_LINES[edit]
    folder = _jsonl(tmp_path, 2)
    _edit_line(folder / name, number, change)
    _same_as_whole(folder, catalog)


def test_windows_line_ends_are_read_by_the_quick_parse(tmp_path, catalog):
    folder = _jsonl(tmp_path, 2)
    for path in folder.glob("*.jsonl"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    first = first_pass(folder)
    assert any(isinstance(entry, Stub) for entry in first.index.by_id.values())
    assert not _same_as_whole(folder, catalog)["errors"]


# YAML the first pass's quick read (records/quick_yaml.py) gives up on, leaves to an exact read,
# or must give the exact lines of: each run must report what the whole-input run does.
_DEEP = "".join(f"\n{'  ' * (level + 1)}x{level}:" for level in range(40)) + " end\n"
_FIRST = "clients/cl00000/records.yaml"
_ODD_YAML = {
    "an alias naming a reference": (_FIRST, [("  name: Client 0\n", "  name: &x nope\n"),
                                             ("  client: cl00000\n", "  client: *x\n")]),
    "a merge key": (_FIRST, [("  id: cl00000-agr\n  client: cl00000\n", "  id: cl00000-agr\n  <<: {client: nope}\n")]),
    "a duplicate key in a shared record": ("cb.yaml", [("  name: Person 1\n", "  name: Person 1\n  name: twice\n")]),
    "a reference to no record": (_FIRST, [("  reviewed_by: p000\n", "\n# moved\n  reviewed_by: p999\n")]),
    "a record in two clients' files": ("clients/cl00001/records.yaml",
                                       [("- type: client\n", "- type: client\n  id: cl00000\n- type: client\n")]),
    "nesting deeper than the quick read takes": (_FIRST, [("  persons: 120\n", "  persons: 120\n  x-deep:" + _DEEP)]),
}


@pytest.mark.parametrize("edit", sorted(_ODD_YAML))
def test_yaml_the_quick_read_gives_up_on_or_must_locate_gives_the_whole_input_report(tmp_path, catalog, edit,
                                                                                     monkeypatch):
    # Without a spill, as for a cluster's workers: with one the pass reads exactly (test_spill.py).
    monkeypatch.setattr(pipeline, "spill_folder", lambda wanted: spill_folder(False))
    odd_yaml_same_as_whole(tmp_path, catalog, edit)


def odd_yaml_same_as_whole(tmp_path: Path, catalog, edit: str):
    """The streamed report of 2 clients with the `edit` of _ODD_YAML is the whole-input one."""
    name, changes = _ODD_YAML[edit]
    folder = tmp_path / "folders"
    generate(folder, 2, layout="folders")
    text = (folder / name).read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    (folder / name).write_text(text, encoding="utf-8")
    report = _same_as_whole(folder, catalog)
    assert report["errors"] or edit == "nesting deeper than the quick read takes"


def test_the_stub_table_finds_rows_added_to_a_block_after_it_was_looked_up_in():
    """Records of two clients interleaved: a look-up in one client's block, rows added to it
    again, then to the other's; the rows added later are found too."""
    from checker.records.stubs import StubTable
    owners: dict = {}
    table = StubTable(owners, ["clients.jsonl"], ["audit", "client"])
    for n, (rid, client, kind) in enumerate([("a", "a", "client"), ("b", "b", "client"), (None, None, None),
                                             ("a-1", "a", "audit"), ("b-1", "b", "audit")]):
        if rid is None:
            assert table.type_of("a") == "client" and table["a"].line == 1
            continue
        owners[rid] = client
        table.add_row(rid, client, table.row(kind, 0, "", (n * 100, n + 1, n + 1), bytes(12)))
    assert table.type_of("a-1") == "audit" and (table["a-1"].at, table["a-1"].line) == (300, 4)
    assert sorted(table) == ["a", "a-1", "b", "b-1"] and len(table) == 4 and "b-1" in table and "c" not in table


def test_json_lines_in_any_order_give_the_whole_input_report(tmp_path, catalog):
    """Clients' records interleaved and before their owners: rows added to a block after a
    look-up in it, records kept whole until their owner is read (and read again exactly)."""
    folder = _jsonl(tmp_path, 3)
    clients = folder / "clients.jsonl"
    lines = clients.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(5).shuffle(lines)
    clients.write_text("".join(lines), encoding="utf-8")
    assert not _same_as_whole(folder, catalog)["errors"]


@pytest.mark.parametrize("kind,value,streamed", [
    ("audit", "NaN", True), ("audit", "-Infinity", True), ("personnel", "NaN", True),
    # orjson reads it (as a float) where the exact reader refuses it: the pass indexed more than
    # the skeleton holds, so the run reads the input whole, as before
    ("audit", "123456789012345678901234", False)])
def test_a_refused_value_in_a_json_lines_record_withholds_its_partitions_and_stays_streamed(
        tmp_path, catalog, monkeypatch, kind, value, streamed):
    folder = _jsonl(tmp_path)
    name = "people.jsonl" if kind == "personnel" else "clients.jsonl"
    lines = (folder / name).read_text(encoding="utf-8").splitlines()
    number, record = next((i, json.loads(line)) for i, line in enumerate(lines, 1) if json.loads(line)["type"] == kind)
    _edit_line(folder / name, number, lambda line: line.rstrip("\n")[:-1] + f', "x-a": {value}}}\n')
    read_whole = []
    monkeypatch.setattr(pipeline, "load_input", lambda *a, real=pipeline.load_input: read_whole.append(a) or real(*a))
    report = _same_as_whole(folder, catalog, jobs=2)
    assert bool(read_whole) is not streamed
    assert [(e["file"], e["line"], e["pointer"]) for e in report["errors"]] == [(name, number, "/x-a")]
    withheld = report["summary"]["not_evaluated"]["input_errors"]
    assert withheld == [record["client"]] if kind == "audit" else "__cb__" in withheld, withheld
    account = report["summary"]["not_evaluated"]        # and the other partitions judged
    assert account["cb_wide"] if kind == "personnel" else (account["clients"], account["cb_wide"]) == (1, False)
