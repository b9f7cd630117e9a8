"""The first pass's memo of JSON Lines chunks (records/line_memo.py): a night that reuses last
night's chunks indexes tonight's input exactly as a pass that parses every line, whatever
changed in between; an entry that is not what was written is parsed again, never trusted."""
from __future__ import annotations

import json
import sqlite3

import pytest

from benchmarks.generate_cb import generate
from checker.engine.cache import PartitionCache, line_memo
from checker.records.line_memo import LineMemo
from checker.records.stream import first_pass

SALT = b"code"


def _content(block, table) -> tuple:
    """A block's (ids, rows), wherever the table keeps them (records/stubs._BlockStore)."""
    ids, rows = block.content(table.store)
    return tuple(ids), bytes(rows)


def _state(first) -> dict:
    """Everything the pass gives that a report or a partition reads."""
    index, table = first.index, first.index.by_id
    return {"records": first.records, "by_type": dict(first.records_by_type), "evidence": first.evidence,
            "problems": [p.as_dict() for p in first.problems],
            "implicated": sorted((json.dumps(p.as_dict()), ids) for p, ids in index.implicated.items()),
            "owners": dict(index.owner_client), "references": index.references,
            "client_shared": index.client_shared,
            "blocks": {client: _content(b, table) for client, b in table.blocks.items()},
            "whole": {rid: (r.data, r.file, r.root, r.line_of()) for rid, r in table.whole.items()},
            "unindexed": [(r.data, r.file, r.line_of()) for r in first.unindexed]}


@pytest.fixture
def export(tmp_path):
    folder = tmp_path / "cb"
    generate(folder, 6, layout="jsonl")
    return folder


def _lines(folder) -> list[str]:
    return (folder / "clients.jsonl").read_text(encoding="utf-8").splitlines()


def _write(folder, lines: list[str]):
    (folder / "clients.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _next_night(folder, edit, entries=None) -> LineMemo:
    """Last night's memo of `folder`, then `edit(lines)` and tonight's pass with that memo (its
    entries as `entries(fresh)` gives them): asserted to equal a pass without a memo."""
    eve = LineMemo({}.get, SALT)
    first_pass(folder, None, memo=eve)
    assert eve.fresh and eve.reused == 0
    _write(folder, edit(_lines(folder)))
    memo = LineMemo((entries(eve.fresh) if entries else eve.fresh).get, SALT)
    assert _state(first_pass(folder, None, memo=memo)) == _state(first_pass(folder))
    assert memo.reused > 0      # else the test would prove nothing of the reuse
    return memo


def _at(lines: list[str], kind: str, n: int = 0) -> int:
    return [i for i, line in enumerate(lines) if json.loads(line)["type"] == kind][n]


def test_an_unchanged_export_reuses_every_chunk(export):
    memo = _next_night(export, lambda lines: lines)
    assert memo.parsed == 0 and not memo.fresh


def test_a_changed_line_parses_only_its_own_chunk(export):
    def rename(lines):
        at = _at(lines, "client", 2)
        lines[at] = json.dumps({**json.loads(lines[at]), "name": "Renamed"})
        return lines
    memo = _next_night(export, rename)
    assert memo.parsed == 1 and len(memo.fresh) == 1


def test_a_moved_line_is_indexed_where_it_is_tonight(export):
    def move(lines):
        at = _at(lines, "audit", 3)
        return lines[:at] + lines[at + 1:] + [lines[at]]
    _next_night(export, move)


def test_a_record_duplicated_across_nights_is_reported_and_counted_once(export):
    # Tonight a later record's line comes first too: the chunk that held it is unchanged, and
    # its copy there is now the duplicate (not indexed, not counted as evidence).
    def duplicate(lines):
        return [lines[_at(lines, "audit_report", 7)]] + lines
    _next_night(export, duplicate)
    problems = [p.message for p in first_pass(export).problems]
    assert any("duplicate id" in m for m in problems)


def test_a_reference_target_removed_since_is_reported_from_unchanged_chunks(export):
    def remove(lines):
        at = _at(lines, "audit", 4)       # its plan, report, team and findings name it
        return lines[:at] + lines[at + 1:]
    _next_night(export, remove)
    assert any("which is not in the input" in p.message for p in first_pass(export).problems)


@pytest.mark.parametrize("damage", [
    lambda entry: entry[:16] + entry[17:],                      # a byte lost
    lambda entry: entry[:-3] + b"}}}",                          # its bytes changed
    lambda entry: b"\0" * len(entry),                           # zeroed
])
def test_a_damaged_entry_is_parsed_again(export, damage):
    def damaged(fresh):
        key = next(iter(fresh))
        return {**fresh, key: damage(fresh[key])}
    memo = _next_night(export, lambda lines: lines, damaged)
    assert memo.parsed == 1


def _first_count(body: dict) -> tuple[dict, str]:
    """(the first type's item counts of an entry's evidence, an array field they count)."""
    fields = next(v for v in body["items"].values() if v)
    return fields, next(iter(fields))


@pytest.mark.parametrize("reshape", [
    lambda body: body.update(records=body["records"][1:]),                     # one record short
    lambda body: body["counts"].update({next(iter(body["counts"])): -1}),      # a count below 0
    lambda body: body["counts"].update({next(iter(body["counts"])): True}),    # not a number
    lambda body: (lambda fields, key: fields.update({key: "2"}))(*_first_count(body)),
    lambda body: body["items"].update({next(iter(body["items"])): []}),        # not field -> count
    lambda body: body["marked"].update({next(iter(body["marked"])): [3]}),     # not a field name
    lambda body: body["marked"].pop(next(iter(body["marked"]))),               # a type's marks missing
    lambda body: body.update(extra=1),
])
def test_an_entry_of_another_shape_is_parsed_again(export, reshape):
    import hashlib

    def reshaped(fresh):
        key = next(iter(fresh))
        body = json.loads(fresh[key][16:])
        reshape(body)                                   # its check digest right
        text = json.dumps(body).encode()
        return {**fresh, key: hashlib.blake2b(text, digest_size=16).digest() + text}
    memo = _next_night(export, lambda lines: lines, reshaped)
    assert memo.parsed == 1


def test_another_salt_reuses_nothing(export):
    eve = LineMemo({}.get, SALT)
    first_pass(export, None, memo=eve)
    memo = LineMemo(eve.fresh.get, b"other code")
    first_pass(export, None, memo=memo)
    assert memo.reused == 0


def _filled(export, folder) -> tuple[PartitionCache, LineMemo]:
    cache = PartitionCache(folder)
    assert cache.prepare() is None
    with line_memo(cache) as memo:
        first_pass(export, None, memo=memo)
    assert not cache.stats.problem
    return cache, memo


def test_the_cache_keeps_tonights_chunks_and_drops_the_others(export, tmp_path):
    cache, memo = _filled(export, tmp_path / "cache")
    stored = cache.store.line_entries()
    assert set(stored) == memo.seen and stored == memo.fresh
    lines = _lines(export)
    _write(export, lines[:len(lines) // 2])
    with line_memo(PartitionCache(tmp_path / "cache")) as memo:
        first_pass(export, None, memo=memo)
    assert memo.reused > 0 and set(cache.store.line_entries()) == memo.seen
    assert set(stored) - memo.seen          # last night's second half: dropped


def test_a_damaged_cache_file_gives_no_entries(export, tmp_path):
    cache, _memo = _filled(export, tmp_path / "cache")
    assert cache.store.line_entries()
    with sqlite3.connect(cache.store.path) as con:
        con.execute("DROP TABLE lines")
    assert cache.store.line_entries() == {}
