"""The first pass indexes JSON Lines records of the usual case from their data alone, without a
Record (stream._StubIndexBuilder.add_lines), and judges the references left waiting for the end
in bulk (IndexBuilder._judge_waiting): whatever the lines hold (duplicate ids, dangling,
wrong-type and cross-client references, records before their owner, CB-wide records among the
clients', owners that are not clients), the index and its problems, with their file, line and
pointer, are those of records/index.build_index over the whole input, read exactly; and a night
that takes unchanged chunks from last night's memo ends with what a night without it ends with."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from benchmarks.generate_cb import generate
from checker.records.index import IndexBuilder
from checker.records import line_chunks
from checker.records.line_memo import LineMemo
from checker.records.reader import read_records
from checker.records.schema_registry import record_types
from checker.records.spill import spill_folder
from checker.records.stream import first_pass

SEEDS = range(40)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("lines") / "cb"
    generate(folder, 4, layout="jsonl")
    return {path.name: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            for path in sorted(folder.glob("*.jsonl"))}


def _ids(files: dict[str, list[dict]], kind: str | None = None) -> list[str]:
    return [r["id"] for lines in files.values() for r in lines
            if isinstance(r, dict) and isinstance(r.get("id"), str) and (kind is None or r.get("type") == kind)] or ["none"]


def _reference(files, rng, record):
    """A reference of `record` (or a list pattern's item) named otherwise: a missing id, a record
    of the wrong type or of another client, itself, a person."""
    info = record_types().get(record.get("type"))
    heads = {pattern.strip("/").split("/")[0] for pattern in info.ref_fields} if info else set()
    fields = [k for k, v in record.items() if k in heads and (isinstance(v, str) or
              (isinstance(v, list) and v and all(isinstance(x, str) for x in v)))]
    if not fields:
        return
    key = rng.choice(fields)
    named = record[key][0] if isinstance(record[key], list) else record[key]
    kind = next((r.get("type") for lines in files.values() for r in lines if isinstance(r, dict) and r.get("id") == named),
                None)
    target = rng.choice(["missing-" + str(rng.random()), record["id"], rng.choice(_ids(files)),
                         rng.choice(_ids(files, "personnel")), rng.choice(_ids(files, kind)),
                         rng.choice(_ids(files, kind))])      # of the right type, often another client's
    record[key] = [target] + record[key][1:] if isinstance(record[key], list) else target


def _edit(files: dict[str, list[dict]], rng: random.Random):
    """One random edit of the lines of the files."""
    name = rng.choice(list(files))
    lines = files[name]
    at = rng.randrange(len(lines))
    what = rng.randrange(7)
    if not isinstance(lines[at], dict):
        return
    if what == 0:       # a record twice (a duplicate id), anywhere in any file
        rng.choice(list(files.values())).insert(rng.randrange(len(lines)), dict(lines[at]))
    elif what == 1:     # a record gone: what names it dangles
        del lines[at]
    elif what == 2:     # a record moved, before its owner or after what names it
        record = lines.pop(at)
        target = rng.choice(list(files.values()))
        target.insert(rng.randrange(len(target) + 1), record)
    elif what == 3:
        _reference(files, rng, lines[at])
    elif what == 4:     # its owner another client's record, a CB-wide one, or none read
        record = lines[at]
        owner = next((k for k in ("client", "audit", "application") if k in record), None)
        if owner:
            record[owner] = rng.choice(_ids(files) + ["nobody"])
    elif what == 5:     # no id, an id that is not a string, an unknown type
        lines[at] = rng.choice([{k: v for k, v in lines[at].items() if k != "id"}, dict(lines[at], id=7),
                                dict(lines[at], type="unknown")])
    else:               # a line that is not one record (read exactly, not from its data)
        lines.insert(at, [dict(lines[at], id=f"{lines[at].get('id')}-copy")])
    if not lines:
        lines.append({"type": "cb", "id": "cb-" + name})


def _write(folder: Path, files: dict[str, list[dict]]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


class _PlainBuilder(IndexBuilder):
    """The index builder judging each reference left waiting with _judge_reference, one at a
    time: what _judge_waiting must equal."""

    def _judge_waiting(self, waiting):
        reference = waiting.unpacked(self._block_id)
        for i in range(len(waiting)):
            self._judge_reference(reference(i))


def _whole(folder: Path) -> dict:
    """What build_index gives over the whole input, read exactly (waiting references judged
    one at a time)."""
    read = read_records(folder)
    assert not read.problems
    builder = _PlainBuilder()
    unindexed = [(r.file, r.line_of(), r.root) for r in read.records if not builder.add(r)]
    index, problems = builder.finish()
    return _state(index, problems, unindexed)


def _state(index, problems, unindexed) -> dict:
    return {"owners": dict(index.owner_client), "problems": [p.as_dict() for p in problems],
            "implicated": [(p.as_dict(), ids) for p, ids in index.implicated.items()],
            "references": index.references, "client_shared": index.client_shared, "unindexed": unindexed}


def _streamed(folder: Path, memo: LineMemo | None = None, jobs: int = 1) -> dict:
    with spill_folder(wanted=jobs > 1) as spill:
        first = first_pass(folder, spill, jobs, memo=memo)
    state = _state(first.index, first.problems, [(r.file, r.line_of(), r.root) for r in first.unindexed])
    return {**state, "evidence": first.evidence, "records": first.records, "by_type": first.records_by_type}


@pytest.mark.parametrize("seed", SEEDS)
def test_lines_indexed_from_their_data_give_the_whole_index(generated, tmp_path, seed):
    rng = random.Random(seed)
    files = json.loads(json.dumps(generated))
    eve = LineMemo({}.get, b"salt")
    _write(tmp_path / "cb", files)
    first_pass(tmp_path / "cb", None, memo=eve)
    for _ in range(1 + seed % 6):
        _edit(files, rng)
    folder = tmp_path / "cb"
    _write(folder, files)
    plain = _streamed(folder)
    assert {k: v for k, v in plain.items() if k in ("owners", "problems", "implicated", "references",
                                                  "client_shared", "unindexed")} == _whole(folder)
    memo = LineMemo(eve.fresh.get, b"salt")
    assert _streamed(folder, memo) == plain
    assert memo.reused > 0


@pytest.mark.parametrize("seed", SEEDS[::5])
def test_chunks_planned_by_the_pool_give_the_index_of_one_process(generated, tmp_path, monkeypatch, seed):
    # Ranges of a few lines (line_chunks.ranges): many, their chunks' plans joined.
    monkeypatch.setattr(line_chunks, "RANGE_BYTES", 2048)
    monkeypatch.setattr(line_chunks, "MOST_LINES", 4)
    rng = random.Random(seed)
    files = json.loads(json.dumps(generated))
    folder = tmp_path / "cb"
    _write(folder, files)
    assert _streamed(folder, jobs=2) == _streamed(folder)
    for _ in range(1 + seed % 6):
        _edit(files, rng)
    _write(folder, files)
    assert _streamed(folder, jobs=2) == _streamed(folder)


def _line(kind: str, rid: str, **fields) -> dict:
    return {"type": kind, "id": rid, **fields}


# Each outcome of a reference, judged at once and left waiting for a record read later.
_OUTCOMES = {"clients.jsonl": [
    _line("client", "A"),
    _line("audit", "A-a0", client="A"),
    _line("team_assignment", "t1", audit="A-a0", person="p1"),        # waits: sound (a person)
    _line("team_assignment", "t2", audit="A-a0", person="cbx"),       # waits: the CB's record, not a person
    _line("team_assignment", "t3", audit="B-a0", person="p1"),        # its owner not read yet
    _line("audit_report", "r1", audit="A-a0", author="B-a0"),         # waits: an audit, not a person
    _line("audit_plan", "pl1", audit="B-a0"),
    _line("nonconformity", "nc", audit="A-a0", verified_by="p9"),     # waits: not in the input
    _line("decision", "d1", client="A", decided_by=["p1", "p9", "cbx"], audit="B-a0"),
    _line("certificate", "c1", client="A", replaces="c2"),            # waits: client B's
    _line("client", "B"),
    _line("audit", "B-a0", client="B"),
    _line("audit_report", "r2", audit="A-a0", author="p1"),
    _line("certificate", "c2", client="B"),
    _line("certificate", "c3", client="A", replaces="c2"),            # at once: client B's
    _line("certificate", "c4", client="A", replaces="c4"),            # itself
    _line("audit_report", "r3", audit="B-a0", author="A-a0"),         # at once: an audit, not a person
    _line("audit_report", "r4", audit="A-a0", author="cbx"),
    _line("audit", "A-a0", client="B"),                               # a duplicate
    _line("certificate", "c5", client="p1"),                          # owned by a person
], "people.jsonl": [_line("cb", "cbx", name="CB"), _line("personnel", "p1", name="P")]}


def test_each_outcome_of_a_reference_at_once_and_at_the_end(tmp_path):
    folder = tmp_path / "cb"
    _write(folder, _OUTCOMES)
    eve = LineMemo({}.get, b"salt")
    plain = _streamed(folder, eve)
    messages = [p["message"] for p in plain["problems"]]
    assert len(messages) == 12 and sum("belongs to client 'B'" in m for m in messages) == 3
    assert {k: v for k, v in plain.items() if k in _whole(folder)} == _whole(folder)
    memo = LineMemo(eve.fresh.get, b"salt")
    assert _streamed(folder, memo) == plain and memo.reused


def test_each_outcome_when_the_pool_plans_the_chunks(tmp_path, monkeypatch):
    # A range of a line or two, and its chunk: the main process takes some of the plans a pool
    # process made, and adds the others line by line, read again (their records named by one
    # read before, or owned by one read after).
    monkeypatch.setattr(line_chunks, "RANGE_BYTES", 64)
    folder = tmp_path / "cb"
    _write(folder, _OUTCOMES)
    assert _streamed(folder, jobs=2) == _streamed(folder)
