"""With local workers, the first pass parses the YAML and JSON files in a pool of processes
(records/stream.py, records/file_pool.py) that send back trimmed records (records/trimmed.py):
the pass ends with the index, problems, kept records and spill it ends with when it reads every
file itself, and so the run with the report."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from pathlib import Path

import pytest
import yaml

import checker.records.stream as stream
from benchmarks.generate_cb import generate
from checker.pipeline import load_input, run_check
from checker.records.file_pool import OrderedPool
from checker.records.reader import Record
from checker.records.spill import Spill, spill_folder
from checker.records.stream import Stub, WholeInputNeeded, first_pass, located, read_back
from checker.records.trimmed import Trimmed
from tests.test_streaming import AS_OF, catalog  # noqa: F401

_CLIENT = "clients/cl00001/records.yaml"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("parallel") / "generated"
    generate(folder, 4, layout="folders")
    return folder


def _replace(folder: Path, name: str, old: str, new: str):
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _append(folder: Path, name: str, text: str):
    with (folder / name).open("a", encoding="utf-8") as out:
        out.write(text)


def _merge_clients(folder: Path):
    """Clients 0 and 1 in one file, clients/both.yaml."""
    files = [folder / "clients" / f"cl0000{n}" / "records.yaml" for n in (0, 1)]
    both = [record for f in files for record in yaml.safe_load(f.read_text(encoding="utf-8"))]
    (folder / "clients" / "both.yaml").write_text(yaml.safe_dump(both, sort_keys=False), encoding="utf-8")
    for f in files:
        f.unlink()


def _as_json(folder: Path, name: str):
    path = folder / name
    path.with_suffix(".json").write_text(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8"))), encoding="utf-8")
    path.unlink()


def _as_json_lines(folder: Path, name: str):
    path = folder / name
    lines = [json.dumps(record) + "\n" for record in yaml.safe_load(path.read_text(encoding="utf-8"))]
    path.with_suffix(".jsonl").write_text("".join(lines), encoding="utf-8")
    path.unlink()


_EDITS = {
    "a duplicate id across files": lambda f: _replace(f, _CLIENT, "id: cl00001-agr", "id: cl00000-agr"),
    "a dangling and a cross-client reference": lambda f: (
        _replace(f, _CLIENT, "reviewed_by: p000", "reviewed_by: p999"),
        _replace(f, _CLIENT, "certificate: cl00001-cert1", "certificate: cl00000-cert1")),
    "unindexed records": lambda f: _append(f, _CLIENT, "- type: audit_plan\n  audit: cl00001-a0\n"
                                                        "- type: nonsense\n  id: odd\n  client: cl00001\n"),
    "a file of several clients' records": _merge_clients,
    "owners read later or never": lambda f: (f / "clients" / "aaa.yaml").write_text(
        "- type: audit_plan\n  id: early-plan\n  audit: cl00001-a0\n"
        "- type: audit_plan\n  id: lost-plan\n  audit: nope\n", encoding="utf-8"),
    "a JSON file and a JSON Lines file among YAML files": lambda f: (
        _as_json(f, "clients/cl00002/records.yaml"), _as_json_lines(f, "clients/cl00003/records.yaml")),
}


@pytest.fixture(params=sorted(_EDITS))
def edited(request, generated, tmp_path) -> Path:
    folder = tmp_path / "edited"
    shutil.copytree(generated, folder)
    _EDITS[request.param](folder)
    return folder


def _entry(entry) -> tuple:
    if isinstance(entry, Stub):
        return "stub", entry.type, entry.file, entry.file_no, entry.root, entry.at, entry.line, entry.line_of(), \
            entry.digest
    where = located(entry)
    return type(entry).__name__, entry.file, entry.root, entry.data, where.lines, where.first_line


def _state(first) -> dict:
    """Everything a first pass ends with that the run reads."""
    index = first.index
    return {"ids": list(index.by_id), "entries": [_entry(index.by_id[rid]) for rid in index.by_id],
            "owners": list(index.owner_client.items()), "references": index.references,
            "client_shared": index.client_shared,
            "implicated": [(p.as_dict(), ids) for p, ids in index.implicated.items()],
            "problems": [p.as_dict() for p in first.problems], "unindexed": [_entry(r) for r in first.unindexed],
            "counts": (first.records, first.records_by_type, first.evidence, first.files, first.files_ignored),
            "spilled": sorted(first.spill.places)}


def _read_back(first) -> list:
    """Every client's records read back (from the spill where the pass left them there)."""
    by_file: dict[int, list[Stub]] = {}
    for entry in first.index.by_id.values():
        if isinstance(entry, Stub):
            by_file.setdefault(entry.file_no, []).append(entry)
    found = []
    for stubs in by_file.values():
        records, unchanged = read_back(first.files, stubs, first.spill)
        found.append((unchanged, [_entry(r) for r in records]))
    return found


def _passed(folder: Path, jobs: int) -> tuple[dict, list]:
    with spill_folder() as spill:
        first = first_pass(folder, spill, jobs)
        return _state(first), _read_back(first)


def test_the_pool_s_pass_ends_as_the_serial_one(edited):
    serial, parallel = _passed(edited, 1), _passed(edited, 2)
    assert parallel == serial
    assert all(unchanged for unchanged, _records in parallel[1])
    assert not any(entry[0] == "Trimmed" for entry in parallel[0]["entries"] + parallel[0]["unindexed"])


def test_what_each_case_shows(generated, tmp_path):
    """The edits above do reach what they are meant to (else the comparison proves little)."""
    seen = {}
    for name, edit in _EDITS.items():
        folder = tmp_path / str(len(seen))
        shutil.copytree(generated, folder)
        edit(folder)
        with spill_folder() as spill:
            first = first_pass(folder, spill, 2)
            whole = {rid for rid, entry in first.index.by_id.items() if isinstance(entry, Record)}
            seen[name] = ([p.message for p in first.problems], whole, first.unindexed, set(first.spill.places),
                          first.files)
    messages, _whole, _unindexed, _places, _files = seen["a duplicate id across files"]
    assert any("duplicate id 'cl00000-agr'; first used in clients/cl00000/records.yaml" in m for m in messages)
    messages = seen["a dangling and a cross-client reference"][0]
    assert any("'p999', which is not in the input" in m for m in messages)
    assert any("belongs to client 'cl00000', not 'cl00001'" in m for m in messages)
    assert len(seen["unindexed records"][2]) == 2
    _messages, whole, _unindexed, places, files = seen["a file of several clients' records"]
    assert {"cl00000", "cl00001-a0"} <= whole and [rel for _path, rel in files].index("clients/both.yaml") not in places
    assert {"lost-plan"} <= seen["owners read later or never"][1] and "early-plan" not in seen["owners read later or never"][1]


def test_a_file_that_cannot_be_parsed_sends_the_run_to_the_whole_input(generated, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(generated, folder)
    _append(folder, _CLIENT, "- type: audit\n  id: [unclosed\n")
    for jobs in (1, 2):
        with spill_folder() as spill, pytest.raises(WholeInputNeeded):
            first_pass(folder, spill, jobs)


def test_the_run_reports_as_over_the_whole_input(generated, tmp_path, catalog):  # noqa: F811
    folder = tmp_path / "all"
    shutil.copytree(generated, folder)
    for edit in _EDITS.values():     # (in this order: the merge takes in the edits before it)
        edit(folder)
    streamed = run_check(folder, *catalog, AS_OF, 2, stream=True)
    whole = run_check(folder, *catalog, AS_OF, 1, loaded=load_input(folder))
    assert json.dumps(streamed, sort_keys=True) == json.dumps(whole, sort_keys=True)
    assert streamed["errors"]


def test_a_file_edited_after_the_pool_read_it(generated, tmp_path):
    """Read back, a client's records are those the pool parsed (from the spill: the index was
    built from them); a record kept whole that the spill cannot give is read from its file,
    and when that changed meanwhile the whole input is read."""
    folder = tmp_path / "edited"
    shutil.copytree(generated, folder)
    with spill_folder() as spill:
        first = first_pass(folder, spill, 2)
        stubs = [entry for entry in first.index.by_id.values() if isinstance(entry, Stub) and entry.file == _CLIENT]
        before = read_back(first.files, stubs)[0]
        _replace(folder, _CLIENT, "persons: ", "persons: 1")
        records, unchanged = read_back(first.files, stubs, spill)
        assert unchanged and [_entry(r) for r in records] == [_entry(r) for r in before]
        assert not read_back(first.files, stubs)[1]


@pytest.mark.parametrize("changed", [False, True])
def test_records_kept_whole_are_read_from_their_file_when_the_spill_cannot_give_them(generated, tmp_path, monkeypatch,
                                                                                       changed):
    folder = tmp_path / "merged"
    shutil.copytree(generated, folder)
    _merge_clients(folder)
    expected = _passed(folder, 1)[0]
    monkeypatch.setattr(Spill, "read", lambda *_args: None)
    hydrate = stream._Pass._hydrate

    def edited_first(run):
        if changed:
            _replace(folder, "clients/both.yaml", "persons: ", "persons: 1")
        hydrate(run)
    monkeypatch.setattr(stream._Pass, "_hydrate", edited_first)
    with spill_folder() as spill:
        if changed:
            with pytest.raises(WholeInputNeeded):
                first_pass(folder, spill, 2)
        else:
            assert _state(first_pass(folder, spill, 2)) == expected


def test_only_what_the_index_reads_comes_back_from_the_pool(generated):
    """A client's records are sent trimmed: less than half the file's bytes (measured: 38 %)."""
    with spill_folder() as spill:
        run = stream._Pass(generated, spill)
        path, rel = run.files[2]
        parsed = stream._parse_file(spill, run.limit, stream.Trimmer(), 2, str(path), rel)
    assert len(pickle.dumps(parsed)) * 2 < path.stat().st_size
    records = [Trimmed.of(row, rel, 2, parsed[0]) for row in parsed[2]]
    application = next(r for r in records if r.type == "application")
    assert set(application.data) == {"id", "type", "client"} and ("sites", 1) in application.arrays
    assert application.line_of("/client") == 8 and application.line_of("/id") == 7


# The pool itself, one for the tests below: a chunk is a number, its result ten times it.
_PARENT = os.getpid()


def _tenfold(chunk):
    if chunk == "raise":
        raise ValueError("raised for the test")
    if chunk == "die" and os.getpid() != _PARENT:
        os._exit(7)
    if chunk == "slow":
        time.sleep(0.05)
    return chunk * 10 if isinstance(chunk, int) else chunk


@pytest.fixture(scope="module")
def pool():
    with OrderedPool(_tenfold, 2) as made:
        yield made


def test_the_pool_gives_results_in_the_order_of_its_chunks(pool):
    assert list(pool.map(["slow", *range(40)])) == ["slow", *range(0, 400, 10)]


def test_a_chunk_that_raises_in_the_pool_raises_in_the_main_process(pool):
    with pytest.raises(ValueError, match="raised for the test"):
        list(pool.map([1, "raise", 2]))


def test_a_pool_process_that_dies_loses_no_chunk(pool):
    assert list(pool.map([1, 2, "die", 3, 4, 5])) == [10, 20, "die", 30, 40, 50]
    assert len(pool.processes) == 1
    assert list(pool.map(range(5))) == list(range(0, 50, 10))


_STARTED: list[int] = []       # the processes `start` ran in (each process's own copy)


def _mark_started():
    _STARTED.append(os.getpid())


def _started_in(chunk):
    """A chunk's result: the process it ran in and those its copy of _STARTED names."""
    if chunk == "die" and os.getpid() != _PARENT:
        os._exit(7)
    return os.getpid(), list(_STARTED)


def test_a_pools_start_runs_once_in_each_process_and_never_here():
    # (stream._ranges_in_heap, the JSON Lines pool's heap: not the main process's.)
    with OrderedPool(_started_in, 2, _mark_started) as made:
        results = list(made.map([*range(12), "die", *range(12)]))
    assert _STARTED == []       # the chunks of the process that died were run here, without it
    ran_here = [started for pid, started in results if pid == _PARENT]
    assert ran_here and all(started == [] for started in ran_here)
    in_processes = [(pid, started) for pid, started in results if pid != _PARENT]
    assert {pid for pid, _started in in_processes} and all(started == [pid] for pid, started in in_processes)
