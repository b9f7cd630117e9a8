"""A YAML file's references to records read later in the same file are judged when the first
pass has read the file (IndexBuilder.settle_waiting) when they are sound, so they do not wait
for the end of the pass; the others (dangling, of the wrong type, another client's, of a record
whose owner is not read yet) still wait, and the index and its problems, in their order with
their file, line and pointer, are those of records/index.build_index over the whole input."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmarks.generate_cb import generate
from checker.records.index import IndexBuilder, PackedShared
from checker.records.reader import read_records
from checker.records.spill import spill_folder
from checker.records.stream import _StubIndexBuilder, first_pass


class _PlainBuilder(IndexBuilder):
    """Judges each reference left waiting one at a time, at the end: what the pass must equal."""

    def _judge_waiting(self, waiting):
        reference = waiting.unpacked(self._block_id)
        for i in range(len(waiting)):
            self._judge_reference(reference(i))


def _state(index, problems) -> dict:
    return {"owners": dict(index.owner_client), "problems": [p.as_dict() for p in problems],
            "implicated": [(p.as_dict(), ids) for p, ids in index.implicated.items()],
            "references": index.references, "client_shared": dict(index.client_shared)}


def _whole(folder: Path) -> dict:
    read = read_records(folder)
    assert not read.problems
    builder = _PlainBuilder()
    for record in read.records:
        builder.add(record)
    return _state(*builder.finish())


def _streamed(folder: Path, monkeypatch, jobs: int = 1) -> tuple[dict, int]:
    """The pass's index and problems, and how many references waited for its end."""
    waited = []
    judge = _StubIndexBuilder._judge_waiting

    def counted(self, waiting):
        waited.append(len(waiting))
        return judge(self, waiting)
    monkeypatch.setattr(_StubIndexBuilder, "_judge_waiting", counted)
    with spill_folder(wanted=jobs > 1) as spill:
        first = first_pass(folder, spill, jobs)
    return _state(first.index, first.problems), sum(waited)


@pytest.fixture()
def export(tmp_path) -> Path:
    return _export(tmp_path)


def _export(tmp_path: Path) -> Path:
    """Three clients' folders. In the first client's file, its decisions moved first (their
    references name records read later: its certificates, its audits), then decisions naming a
    later record of the wrong type, the next client's certificate (in a later file), no record,
    and the third client's certificate, moved with that client's record to the end of this file
    (known at the file's end: another client's), and a person the first decision names; its application moved after the records naming
    it."""
    folder = tmp_path / "cb"
    generate(folder, 3, layout="folders")
    files = sorted((folder / "clients").glob("*/records.yaml"))
    records, other, third = (yaml.safe_load(f.read_text(encoding="utf-8")) for f in files)
    other_certificate = next(r["id"] for r in other if r["type"] == "certificate")
    moved = [third[0], next(r for r in third if r["type"] == "certificate")]
    decisions = [r for r in records if r["type"] == "decision"]
    assert len(decisions) >= 2 and moved[0]["type"] == "client"
    for decision in decisions:
        records.remove(decision)
    second = decisions[1]
    wrong, cross, dangling, same_file = (dict(second, id=f"{second['id']}-{n}") for n in range(4))
    wrong["audit"] = next(r["id"] for r in records if r["type"] == "application")
    cross["certificate"], dangling["certificate"] = other_certificate, "nothing-here"
    same_file["certificate"] = moved[1]["id"]
    decisions[0]["decided_by"] = ["p-late"]     # a CB-wide record, read later in this file
    late = dict(yaml.safe_load((folder / "cb.yaml").read_text(encoding="utf-8"))[1], id="p-late")
    application = records.pop(1)
    assert application["type"] == "application"
    files[0].write_text(yaml.safe_dump([records[0], *decisions, wrong, cross, dangling, same_file, *records[1:],
                                        application, late, *moved], sort_keys=False), encoding="utf-8")
    files[2].write_text(yaml.safe_dump([r for r in third if r not in moved], sort_keys=False), encoding="utf-8")
    return folder


def _first_client(folder: Path) -> str:
    return sorted((folder / "clients").iterdir())[0].name


@pytest.mark.parametrize("jobs", [1, 2])
def test_references_settled_in_their_file_give_the_whole_index(export, monkeypatch, jobs):
    whole = _whole(export)
    streamed, waited = _streamed(export, monkeypatch, jobs)
    assert streamed == whole
    messages = [p["message"] for p in whole["problems"]]
    assert any("which is not in the input" in m for m in messages)
    assert sum("belongs to client" in m for m in messages) >= 2
    assert any("which is a " in m for m in messages)
    monkeypatch.setattr(IndexBuilder, "settle_waiting", lambda self, start: None)
    unsettled, waited_all = _streamed(export, monkeypatch, jobs)
    assert unsettled == whole
    assert "p-late" in whole["client_shared"][_first_client(export)]
    # Each client's decisions name its certificate, read later in its file: those no longer wait.
    assert waited_all - waited >= 3


def test_clients_shared_ids_packed_as_the_pass_goes_give_the_whole_index(export, monkeypatch):
    # One client's ids open at a time: each is packed as soon as another client's are added to,
    # and again, merged, when its own come back (the first file's records of the third client).
    monkeypatch.setattr(PackedShared, "OPEN", 1)
    whole = _whole(export)
    streamed, _waited = _streamed(export, monkeypatch)
    assert streamed == whole and whole["client_shared"][_first_client(export)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_whose_references_all_settled_leaves_no_number_waiting(export, monkeypatch, jobs):
    numbered = []
    finish = _StubIndexBuilder.finish

    def seen(self):
        numbered.append((list(self._waiting.files), list(self._waiting.clients)))
        return finish(self)
    monkeypatch.setattr(_StubIndexBuilder, "finish", seen)
    streamed, _waited = _streamed(export, monkeypatch, jobs)
    assert streamed == _whole(export)
    # Only the first file's references still wait (the problems, of its own client's records
    # and of those of the third client moved there): the later files' decisions named
    # certificates read later in their own file, settled once it was read.
    first, _second, third = sorted(path.name for path in (export / "clients").iterdir())
    assert numbered == [([f"clients/{first}/records.yaml"], [first, third])]
