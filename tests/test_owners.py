"""The ids a streamed first pass puts away (records/owners.Owners): looked up by their hash and
found in their client's block, they read as the dict they stand for, and the index, its
problems (in their order) and the report stay those of the whole input when ids are put away
every few records and when every id's hash is one of a few (a collision for almost every pair:
each found by its own id, none taken for another)."""
from __future__ import annotations

import json
import random

import pytest

from checker.records import line_chunks
from checker.records.line_memo import LineMemo
from checker.records.owners import Owners
from checker.records.stubs import StubTable
from tests.test_index_lines import _OUTCOMES, _edit, _streamed, _whole, _write, generated  # noqa: F401
from tests.test_streaming import _jsonl, _same_as_whole, catalog  # noqa: F401


def _few_hashes(rid) -> int:
    return (len(rid) % 3 - 1) << 32      # three hashes (and high halves: Owners.half), one negative


@pytest.fixture(params=["hash", "few hashes"])
def put_away_often(request, monkeypatch):
    """Ids put away every 3 fresh ones, hashed by Python's hash or onto three values."""
    monkeypatch.setattr(Owners, "FRESH", 3)
    if request.param == "few hashes":
        monkeypatch.setattr(Owners, "hash_id", staticmethod(_few_hashes))


def _table(owned: dict) -> tuple[Owners, StubTable]:
    owners = Owners()
    table = StubTable(owners, ["a.jsonl"], ["audit", "client", "personnel"])
    owners.attach(table)
    for n, (rid, client) in enumerate(owned.items()):
        owners[rid] = client
        if client is not None:
            kind = "client" if rid == client else "audit"
            table.add_row(rid, client, table.row(kind, 0, "", (n, n + 1, n + 1), bytes(12)))
        owners.put_away()
    table.close()
    owners.put_away(every=True)
    return owners, table


OWNED = {"p1": None, "a": "a", "a-1": "a", "b": "b", "b-1": "b", "a-2": "a", "cb": None, "b-22": "b", "c": "c"}


def test_ids_put_away_read_as_their_dict(put_away_often):
    owners, table = _table(OWNED)
    assert set(owners.hot) == {"p1", "cb"} and len(owners.hashes) == 7       # the clients' ids put away
    assert table._hot is owners.hot or not table._hot      # the table's fast path keeps no stale dict alive
    assert dict(owners) == OWNED and len(owners) == len(OWNED)
    assert [owners.get(rid) for rid in OWNED] == list(OWNED.values())
    assert all(rid in owners for rid in OWNED) and "a-3" not in owners and "" not in owners and 7 not in owners
    assert owners.get("zz", "none") == "none" and owners.put_away_each(["a-1", "a-9", "c", "cc"]) == \
        [True, False, True, False]
    assert owners.unowned() == ["p1", "cb"]
    assert owners.counts() == {None: 2, "a": 3, "b": 3, "c": 1}
    with pytest.raises(KeyError):
        owners["a-3"]
    assert table.type_of("b-22") == "audit" and table["a-2"].line == 6 and "b-1" in table


@pytest.mark.parametrize("put_away", [True, False])
def test_finish_answers_once_what_the_walks_answer_and_refuses_writes(put_away_often, put_away):
    owners = Owners(put_away=put_away)
    table = StubTable(owners, ["a.jsonl"], ["audit", "client", "personnel"])
    owners.attach(table)
    for n, (rid, client) in enumerate(OWNED.items()):
        owners[rid] = client
        if client is not None:
            table.add_row(rid, client, table.row("client" if rid == client else "audit", 0, "", (n, n + 1, n + 1), bytes(12)))
    table.close()
    owners.finish()
    assert dict(owners) == OWNED and owners.unowned() == ["p1", "cb"]
    assert owners.counts() == {None: 2, "a": 3, "b": 3, "c": 1}
    owners.unowned().append("x")        # the answers handed out are copies
    owners.counts()["a"] += 1
    assert owners.unowned() == ["p1", "cb"] and owners.counts()["a"] == 3
    with pytest.raises(RuntimeError, match="after finish"):
        owners["d"] = "d"
    with pytest.raises(RuntimeError, match="after finish"):
        owners.add_run(["d-1"], "d")
    assert "d" not in owners and "d-1" not in owners


@pytest.mark.parametrize("owners_kind", ["Owners", "dict"])
def test_knows_all_answers_as_asking_each_id(put_away_often, owners_kind):
    if owners_kind == "Owners":
        _owners, table = _table(OWNED)
    else:
        table = StubTable(dict(OWNED), ["a.jsonl"], ["audit", "client"])
    table.keep("w", object())       # a record kept whole: in the table, not in the owners
    for rids in ([], ["p1"], ["a-1", "cb"], ["a", "b-22", "c"], ["w"], ["p1", "w", "b"], ["a-3"], ["p1", "a-3"],
                 ["w", "zz"], ["", "a"]):
        assert table.knows_all(rids) == all(rid in table for rid in rids), rids


def test_records_kept_whole_stay_in_the_dict(put_away_often):
    owners = Owners()
    table = StubTable(owners, ["a.jsonl"], ["client"])
    owners.attach(table)
    for rid in ("a", "b", "c", "d"):
        owners[rid] = rid
        table.keep(rid, object()) if rid == "b" else table.add_row(rid, rid, table.row("client", 0, "", (0, 1, 1),
                                                                                         bytes(12)))
    owners.put_away()
    assert set(owners.hot) == {"b"} and dict(owners) == {rid: rid for rid in "abcd"}


def test_fewer_ids_than_are_put_away_at_once_stay_in_the_dict():
    owners, _table_ = _table(OWNED)
    assert owners.hot == OWNED and owners.np is None and dict(owners) == OWNED


@pytest.mark.parametrize("seed", range(0, 40, 4))
def test_lines_give_the_whole_index_with_ids_put_away(generated, tmp_path, put_away_often, seed):
    rng = random.Random(seed)
    files = json.loads(json.dumps(generated))
    eve = LineMemo({}.get, b"salt")
    folder = tmp_path / "cb"
    _write(folder, files)
    _streamed(folder, eve)
    for _ in range(1 + seed % 6):
        _edit(files, rng)
    _write(folder, files)
    plain = _streamed(folder)
    assert {k: v for k, v in plain.items() if k in _whole(folder)} == _whole(folder)
    assert _streamed(folder, LineMemo(eve.fresh.get, b"salt")) == plain


def test_each_outcome_of_a_reference_with_ids_put_away(tmp_path, monkeypatch, put_away_often):
    monkeypatch.setattr(line_chunks, "RANGE_BYTES", 64)
    folder = tmp_path / "cb"
    _write(folder, _OUTCOMES)
    plain = _streamed(folder)
    assert {k: v for k, v in plain.items() if k in _whole(folder)} == _whole(folder)
    assert _streamed(folder, jobs=2) == plain


def test_the_report_with_ids_put_away_is_the_whole_inputs(tmp_path, catalog, put_away_often):  # noqa: F811
    report = _same_as_whole(_jsonl(tmp_path, 3), catalog)
    assert report["input"]["partitions"] == 4 and not report["errors"]     # 3 clients and the CB


def test_a_night_with_a_memo_keeps_every_id_in_the_dict(generated, tmp_path, monkeypatch):  # noqa: F811
    from checker.records.stream import first_pass
    monkeypatch.setattr(Owners, "FRESH", 3)
    folder = tmp_path / "cb"
    _write(folder, generated)
    owners = first_pass(folder, memo=LineMemo({}.get, b"salt")).index.owner_client
    assert not len(owners.hashes) and len(owners.hot) == sum(map(len, generated.values()))
    assert len(first_pass(folder).index.owner_client.hashes)       # without one, they are put away


def test_finish_makes_the_columns_smaller_and_answers_the_same(put_away_often):
    owners, _table_of_rows = _table(OWNED)      # put away every id, as finish does first: its answers are compared
    asked = [*OWNED, "a-3", "zz", "", 7, "b-2", "c-1"]
    before = [owners.get(rid, "none") for rid in asked], owners.put_away_each([r for r in asked if type(r) is str])
    owners.finish()
    # The clients' numbers two bytes each, the Bloom filter a bit that lets every id through.
    assert owners.numbers.itemsize == 2 and len(owners._bloom) == 1
    assert all(owners.maybe_put_away(rid) for rid in ["a", "a-3", "zz"])
    assert ([owners.get(rid, "none") for rid in asked], owners.put_away_each([r for r in asked if type(r) is str])) \
        == before
    assert dict(owners) == OWNED and owners.counts() == {None: 2, "a": 3, "b": 3, "c": 1}
