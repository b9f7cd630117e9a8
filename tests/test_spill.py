"""A streamed run parses each YAML or JSON record file once: the first pass spills what it parsed
(records/spill.py) and the local workers read it from there. The spill changes no report, is
parsed around when it does not hold what it should, is private to the run and gone after it,
and is made only for local workers."""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import pytest
import yaml

import checker.pipeline as pipeline
import checker.records.stream as stream
from benchmarks.generate_cb import generate
from checker.pipeline import run_check
from checker.records.reader import read_records
from checker.records.spill import spill_folder
from checker.records.stream import Stub, first_pass, read_back
from tests.test_streaming import _ODD_YAML, AS_OF, _same_as_whole, catalog, odd_yaml_same_as_whole  # noqa: F401


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """Three clients, a folder each: two in YAML, one in JSON."""
    folder = tmp_path_factory.mktemp("spill") / "folders"
    generate(folder, 3, layout="folders")
    last = sorted((folder / "clients").glob("*/records.yaml"))[-1]
    last.with_suffix(".json").write_text(json.dumps(yaml.safe_load(last.read_text(encoding="utf-8"))), encoding="utf-8")
    last.unlink()
    return folder


@pytest.fixture
def parses(monkeypatch, tmp_path) -> Path:
    """A file naming every YAML or JSON file parsed for the run, a line each, by whichever
    process parsed it (the local workers are forked after the patch, so they count too)."""
    log = tmp_path / "parses.log"
    log.touch()
    exact = stream._whole_file

    def counted(path, rel, limit):
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{rel}\n")
        return exact(path, rel, limit)
    monkeypatch.setattr(stream, "_whole_file", counted)
    return log


@pytest.fixture
def private_tmp(monkeypatch, tmp_path) -> Path:
    """TMPDIR for the spill folders made here."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _stubs_by_file(first) -> dict[int, list[Stub]]:
    by_file: dict[int, list[Stub]] = {}
    for entry in first.index.by_id.values():
        if isinstance(entry, Stub):
            by_file.setdefault(entry.file_no, []).append(entry)
    return by_file


def _as_parsed(records) -> list[tuple]:
    return [(r.file, r.root, r.data, r.line_of(), r.line_of("/id"), r.document.first_line, r.document.lines)
            for r in records]


def test_a_yaml_export_streamed_is_parsed_once_and_reports_as_read_whole(export, catalog, parses, private_tmp):
    streamed = _same_as_whole(export, catalog)      # (the whole-input run reads its files otherwise)
    assert sorted(parses.read_text().splitlines()) == sorted(read_records(export).files_read)   # by the first pass
    assert streamed["input"]["partitions"] == 4 and not streamed["errors"]
    assert os.listdir(private_tmp) == []


@pytest.mark.parametrize("edit", sorted(_ODD_YAML))
def test_yaml_the_quick_read_would_give_up_on_gives_the_whole_input_report_with_a_spill(tmp_path, catalog, edit):
    """What tests/test_streaming checks of the quick read, with the spill: the pass reads exactly."""
    odd_yaml_same_as_whole(tmp_path, catalog, edit)


def test_records_read_from_the_spill_are_those_parsed_from_the_file(export, parses):
    with spill_folder() as spill:
        first = first_pass(export, spill)
        for file_no, stubs in _stubs_by_file(first).items():
            spilled, unchanged = read_back(first.files, stubs, spill)
            parsed, _unchanged = read_back(first.files, stubs)
            assert unchanged and spilled and _as_parsed(spilled) == _as_parsed(parsed)
    # Parsed by the first pass, then by each read_back() without the spill.
    assert len(parses.read_text().splitlines()) == len(first.files) + len(_stubs_by_file(first))


@pytest.mark.parametrize("spoil", ["a byte of its records", "its header's file digest", "the spill file", "its place"])
def test_a_spill_that_does_not_hold_what_was_parsed_is_parsed_around(export, parses, spoil):
    with spill_folder() as spill:
        first = first_pass(export, spill)
        file_no, stubs = next(iter(_stubs_by_file(first).items()))
        name, at, length = spill.places[file_no]
        data_file = Path(spill.folder) / name
        blob = bytearray(data_file.read_bytes())
        if spoil == "a byte of its records":
            blob[at + length - 5] ^= 1
        elif spoil == "its header's file digest":
            blob[at + 20] ^= 1
        data_file.write_bytes(bytes(blob))
        if spoil == "the spill file":
            os.unlink(data_file)
        if spoil == "its place":
            del spill.places[file_no]
        before = len(parses.read_text().splitlines())
        records, unchanged = read_back(first.files, stubs, spill)
        assert len(parses.read_text().splitlines()) == before + 1        # parsed again
        assert unchanged and _as_parsed(records) == _as_parsed(read_back(first.files, stubs)[0])
        assert spill.read(file_no, b"\0" * 12, "x") is None      # written for other bytes


def test_a_file_edited_after_the_first_pass_is_judged_as_the_pass_read_it(tmp_path):
    """The spill holds the bytes the index was built from: the run stays consistent with them
    (without a spill, read_back notices the change and the run reads the input whole)."""
    folder = tmp_path / "edited"
    generate(folder, 2, layout="folders")
    with spill_folder() as spill:
        first = first_pass(folder, spill)
        file_no, stubs = next(iter(_stubs_by_file(first).items()))
        path = first.files[file_no][0]
        before = read_back(first.files, stubs)[0]
        path.write_text(path.read_text(encoding="utf-8").replace("persons: ", "persons: 1"), encoding="utf-8")
        records, unchanged = read_back(first.files, stubs, spill)
        assert unchanged and _as_parsed(records) == _as_parsed(before)
        assert not read_back(first.files, stubs)[1]


def test_the_spill_folder_is_private_and_gone_after_the_run_even_after_an_interruption(export, catalog, private_tmp,
                                                                                         monkeypatch):
    seen = []

    def interrupted(first, *_args):
        folder = Path(first.spill.folder)
        data_file = folder / next(iter(first.spill.places.values()))[0]
        seen.append((folder.stat().st_mode & 0o777, data_file.stat().st_mode & 0o777, data_file.stat().st_size))
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "evaluate_streamed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_check(export, *catalog, AS_OF, 1, stream=True)
    assert seen[0][:2] == (0o700, 0o600) and seen[0][2] > 0
    assert os.listdir(private_tmp) == []


def test_only_local_workers_get_a_spill(export, catalog, private_tmp, monkeypatch):
    """A cluster's workers (--dask) may run on other machines, where the spill folder is not."""
    spills = []

    def evaluated(first, *_args):
        spills.append(first.spill)
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "evaluate_streamed", evaluated)
    for jobs in (2, object()):      # a number of local processes; a cluster (dask_runner.DaskCluster)
        with pytest.raises(KeyboardInterrupt):
            run_check(export, *catalog, AS_OF, jobs, stream=True)
    assert spills[0] is not None and spills[1] is None
    assert os.listdir(private_tmp) == []


def test_a_file_of_several_clients_is_not_spilled(tmp_path):
    """Its records are kept whole by the first pass: nobody reads them again."""
    folder = tmp_path / "both"
    generate(folder, 2, layout="folders")
    files = sorted((folder / "clients").glob("*/records.yaml"))
    both = [r for f in files for r in yaml.safe_load(f.read_text(encoding="utf-8"))]
    (folder / "clients" / "both.yaml").write_text(yaml.safe_dump(both, sort_keys=False), encoding="utf-8")
    for f in files:
        f.unlink()
    with spill_folder() as spill:
        first = first_pass(folder, spill)
        spilled = {first.files[n][1] for n in spill.places}
    assert "clients/both.yaml" not in spilled and spilled == {"cb.yaml"}
    assert len(read_records(folder).records) == first.records


def test_a_spill_folder_a_killed_run_left_is_removed_by_the_next_run(private_tmp):
    """SIGKILL (or the out-of-memory killer) runs no `finally`: the next run removes the folder
    of a process that is gone, and leaves alone those of live runs and of other hosts."""
    import socket
    import subprocess
    import sys
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    left = private_tmp / f"cbcheck-spill-{host}-{int(gone.stdout)}-abc"
    live = private_tmp / f"cbcheck-spill-{host}-{os.getpid()}-def"
    elsewhere = private_tmp / f"cbcheck-spill-{host}x-{int(gone.stdout)}-ghi"
    for folder in (left, live, elsewhere):
        folder.mkdir()
        (folder / "data").write_bytes(b"x" * 100)
    with spill_folder() as spill:
        mine = Path(spill.folder)
        assert mine.name.startswith(f"cbcheck-spill-{host}-{os.getpid()}-")
        assert sorted(os.listdir(private_tmp)) == sorted([mine.name, live.name, elsewhere.name])
    assert sorted(os.listdir(private_tmp)) == sorted([live.name, elsewhere.name])


def test_a_worker_is_sent_each_tasks_own_files_and_spill_places_not_every_files(export, catalog, monkeypatch):
    """An export in folders has a file per client: the judge the workers hold names none of
    them, and a client's task only its own (with where the spill holds it)."""
    from checker.engine import streamed, workers
    judges, tasks = [], []
    real_hand, real_task = workers._Pool.hand, streamed.ClientTasks._task

    def hand(worker, judge):
        if worker.judge is not judge and isinstance(judge, streamed.ReadingJudge):    # sent to it
            judges.append(pickle.dumps(judge))
        real_hand(worker, judge)

    def task(self, client):
        made = real_task(self, client)
        tasks.append((client, pickle.loads(pickle.dumps(made)).sources))
        return made
    monkeypatch.setattr(workers._Pool, "hand", staticmethod(hand))
    monkeypatch.setattr(streamed.ClientTasks, "_task", task)
    _same_as_whole(export, catalog, jobs=2)
    names = sorted(str(p.relative_to(export)) for p in (export / "clients").glob("*/records.*"))
    assert len(judges) == 2 and not any(name.encode() in judge for judge in judges for name in names)
    assert not any(pickle.loads(judge).spill.places for judge in judges)
    assert sorted(client for client, _sources in tasks) == ["cl00000", "cl00001", "cl00002"]
    for client, sources in tasks:
        read_from = {stub.file_no for stub in sources.own}
        assert set(sources.files) == set(sources.places) == read_from and len(read_from) == 1
        assert [name for _path, name in sources.files.values()] == [n for n in names if f"/{client}/" in n]
