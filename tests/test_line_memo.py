"""The first pass's memo of JSON Lines chunks (records/line_memo.py): a night that reuses last
night's chunks indexes tonight's input exactly as a pass that parses every line, whatever
changed in between; an entry that is not what was written is parsed again, never trusted."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import zlib

import pytest

from benchmarks.generate_cb import generate
from checker.engine.cache import PartitionCache, line_memo
from checker.records import line_chunks, stream
from checker.records.index import IndexBuilder
from checker.records.line_memo import LineMemo
from checker.records.spill import spill_folder
from checker.records.stream import first_pass

SALT = b"code"


def _content(client, table) -> tuple:
    """A client's block's (ids, rows), wherever the table keeps them (records/stubs._BlockStore)."""
    ids, rows = table.block_content(client)
    return tuple(ids), bytes(rows)


def _state(first) -> dict:
    """Everything the pass gives that a report or a partition reads."""
    index, table = first.index, first.index.by_id
    return {"records": first.records, "by_type": dict(first.records_by_type), "evidence": first.evidence,
            "problems": [p.as_dict() for p in first.problems],
            "implicated": sorted((json.dumps(p.as_dict()), ids) for p, ids in index.implicated.items()),
            "owners": dict(index.owner_client), "references": index.references,
            "client_shared": index.client_shared,
            "blocks": {client: _content(client, table) for client in table.blocks},
            "whole": {rid: (r.data, r.file, r.root, r.line_of()) for rid, r in table.whole.items()},
            "unindexed": [(r.data, r.file, r.line_of()) for r in first.unindexed]}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of 8 lines at most, a quarter of the lines ending one: the 246 lines of a small
    export make dozens, so that most of a night's chunks are unchanged ones taken from the memo,
    beside the one or two an edit changes; the pass's pool takes them in ranges of several."""
    monkeypatch.setattr(stream, "CUT", 64)
    monkeypatch.setattr(stream, "MOST_LINES", 8)
    # The pool's ranges of a few chunks each: a night's pool cuts several (memo_chunks.py).
    monkeypatch.setattr(line_chunks, "RANGE_BYTES", 4096)


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
    return _tonight(folder, (entries(eve.fresh) if entries else eve.fresh).get)


def _tonight(folder, lookup) -> LineMemo:
    """Tonight's pass over `folder` with a memo of `lookup`'s entries, serial and with the
    pass's pool: asserted to equal a pass without a memo, with the same memo tally."""
    memo = LineMemo(lookup, SALT)
    parsed_all = _state(first_pass(folder))
    assert _state(first_pass(folder, None, memo=memo)) == parsed_all
    assert memo.reused > 0      # else the test would prove nothing of the reuse
    # The same night with the pass's pool (records/memo_chunks.py): its processes take the
    # chunks of ranges cut where chunks end; the same index, and the same takings and entries.
    pooled = LineMemo(memo.lookup, SALT)
    with spill_folder() as spill:
        assert _state(first_pass(folder, spill, jobs=2, memo=pooled)) == parsed_all
    assert pooled.tally() == memo.tally()
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


def _problems(folder) -> list[str]:
    return [p.message for p in first_pass(folder).problems]


def _edited(lines: list[str], at: int, **fields) -> str:
    """Line `at` of `lines` with `fields` changed."""
    return json.dumps({**json.loads(lines[at]), **fields})


def test_a_reference_target_removed_since_is_reported_from_unchanged_chunks(export):
    def remove(lines):
        at = _at(lines, "audit", 4)       # its plan, report, team and findings name it
        return lines[:at] + lines[at + 1:]
    _next_night(export, remove)
    assert any("which is not in the input" in m for m in _problems(export))


@pytest.mark.parametrize("first", [True, False])
def test_an_id_added_that_an_unchanged_chunk_holds_is_a_duplicate(export, first):
    # A new line (another certificate under an audit's id) before every chunk of last night,
    # or after them: then the unchanged chunk's record, else the new one, is the duplicate.
    def add(lines):
        at = _at(lines, "audit", 7)
        added = _edited(lines, at, audit_type="special")
        return [added, *lines] if first else [*lines, added]
    _next_night(export, add)
    assert sum("duplicate id" in m for m in _problems(export)) == 1


@pytest.mark.parametrize("client", [0, 3])
def test_a_record_moved_to_another_client_is_named_across_clients(export, client):
    # An audit moved to a client before its own (read already) or after it (not read yet), with
    # the records it owns: the decisions of its first client, in unchanged chunks, name it
    # across clients.
    def move(lines):
        at = _at(lines, "audit", 6)
        other = json.loads(lines[_at(lines, "client", client)])["id"]
        lines[at] = _edited(lines, at, client=other)
        return lines
    _next_night(export, move)
    assert any("which belongs to client" in m for m in _problems(export))


def test_a_client_removed_leaves_its_records_unowned(export):
    # Its records' chunks are unchanged, their owner gone: the plans taken from the memo name an
    # owner the index does not have, and are read line by line.
    def remove(lines):
        at = _at(lines, "client", 2)
        return lines[:at] + lines[at + 1:]
    _next_night(export, remove)
    assert any("which is not in the input" in m for m in _problems(export))


def test_references_judged_in_bulk_are_judged_as_one_at_a_time(export, monkeypatch):
    # A reference to no record, one across clients, one to a record of another type, and those
    # left waiting for the people read last: IndexBuilder._judge_waiting in bulk (numpy) gives
    # the index and problems, in order, of its loop.
    lines = _lines(export)
    audit, moved, team = _at(lines, "audit", 2), _at(lines, "audit", 9), _at(lines, "team_assignment", 6)
    lines[moved] = _edited(lines, moved, client=json.loads(lines[_at(lines, "client", 0)])["id"])
    # A team member who is the report of the team's own audit, read after it: left waiting.
    lines[team] = _edited(lines, team, person=json.loads(lines[_at(lines, "audit_report", 3)])["id"])
    _write(export, lines[:audit] + lines[audit + 1:])
    one_at_a_time = _state(first_pass(export))
    monkeypatch.setattr(IndexBuilder, "BULK", 0)
    assert _state(first_pass(export)) == one_at_a_time
    messages = [p["message"] for p in one_at_a_time["problems"]]
    for kind in ("which is not in the input", "which belongs to client", "which is a audit_report record"):
        assert any(kind in m for m in messages), kind


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


def _opened(entry: bytes) -> tuple[bytes, dict, bytes]:
    """(kind, JSON body, the lines' digests) of a memo entry (records/line_memo.py)."""
    kind = entry[16:17]
    if kind == b"P":
        (length,) = struct.unpack_from("<I", entry, 17)
        return kind, json.loads(entry[21:21 + length]), entry[21 + length:]
    return kind, json.loads(entry[17:]), b""


def _closed(kind: bytes, body: dict, digests: bytes) -> bytes:
    """An entry of `body`, its check digest right."""
    text = json.dumps(body).encode()
    raw = kind + (struct.pack("<I", len(text)) if kind == b"P" else b"") + text + digests
    return hashlib.blake2b(raw, digest_size=16).digest() + raw


def _first_count(body: dict) -> tuple[dict, str]:
    """(the first type's item counts of an entry's evidence, an array field they count)."""
    fields = next(v for v in body["items"].values() if v)
    return fields, next(iter(fields))


def _evidence_reshapes():
    return [
        lambda body: body["counts"].update({next(iter(body["counts"])): -1}),      # a count below 0
        lambda body: body["counts"].update({next(iter(body["counts"])): True}),    # not a number
        lambda body: (lambda fields, key: fields.update({key: "2"}))(*_first_count(body)),
        lambda body: body["items"].update({next(iter(body["items"])): []}),        # not field -> count
        lambda body: body["marked"].update({next(iter(body["marked"])): [3]}),     # not a field name
        lambda body: body["marked"].pop(next(iter(body["marked"]))),               # a type's marks missing
        lambda body: body.update(extra=1)]


def _with_item(body: dict, pointer: int):
    """A plan's first reference given item `pointer` (-1: none): a field's or a list's."""
    body["refs"][2][0] = pointer


def _reshaped(kind: bytes, reshape):
    """The entries of a night with the largest of `kind` reshaped (its check digest right)."""
    def entries(fresh):
        key = max((key for key, entry in fresh.items() if entry[16:17] == kind), key=lambda key: len(fresh[key]))
        found_kind, body, digests = _opened(fresh[key])
        changed = reshape(body)
        digests = changed if reshape is short_digests else digests
        return {**fresh, key: _closed(found_kind, body, digests)}
    return entries


@pytest.mark.parametrize("reshape", [
    lambda body: body.update(records=body["records"][1:]),                     # one record short
    *_evidence_reshapes()])
def test_a_fields_entry_of_another_shape_is_parsed_again(export, reshape):
    memo = _next_night(export, lambda lines: lines, _reshaped(b"F", reshape))
    assert memo.parsed == 1


def short_digests(body: dict) -> bytes:
    """A plan's digests a byte short."""
    return b"\0" * (12 * len(body["ids"]) - 1)


@pytest.mark.parametrize("reshape", [
    lambda body: body.update(ids=body["ids"][1:]),                             # one record short
    lambda body: body["ids"].__setitem__(1, body["ids"][0]),                  # an id twice
    lambda body: body["ids"].__setitem__(0, 7),                                # not an id
    lambda body: body["types"].__setitem__(0, "nonsense"),                     # not a type
    lambda body: body["kinds"].__setitem__(0, len(body["types"])),            # no such type
    lambda body: body["kinds"].__setitem__(0, 0.0),                            # not a number
    lambda body: body["clients"].__setitem__(0, 1),                            # a client's record not its own
    lambda body: body["clients"].__setitem__(1, len(body["ids"])),            # no such record
    lambda body: body["clients"].__setitem__(1, None),                         # neither a record nor an owner
    lambda body: body["refs"][0].__setitem__(0, len(body["ids"])),            # no such record
    lambda body: body["refs"][1].__setitem__(0, 99),                           # no such field of its type
    lambda body: _with_item(body, 0 if body["refs"][2][0] == -1 else -1),     # a field's item, a list's none
    lambda body: body["refs"][3].__setitem__(0, len(body["names"])),          # no such target
    lambda body: body["refs"][3].pop(),                                        # columns of two lengths
    lambda body: body["names"].__setitem__(0, 1),                              # not an id
    short_digests,
    *_evidence_reshapes()])
def test_a_plan_entry_of_another_shape_is_parsed_again(export, reshape):
    memo = _next_night(export, lambda lines: lines, _reshaped(b"P", reshape))
    assert memo.parsed == 1


def _repeated(raw: bytes) -> bytes:
    """300 copies of a line that ends no chunk (the pool's range goes on to the next that does)."""
    lines = raw.splitlines(keepends=True)
    at = next(k for k in range(40, len(lines)) if zlib.crc32(lines[k]) & 255 >= stream.CUT)
    return b"".join(lines[:at] + [lines[at]] * 300 + lines[at + 1:])


@pytest.mark.parametrize("edit", [
    lambda raw: raw[:-1],                                                       # no line break at the end
    lambda raw: raw.replace(b"}\n", b"}\r\n", 12),                              # lines ended by CRLF
    _repeated,
])
def test_unusual_lines_give_the_same_night_pooled_or_not(export, edit):
    path = export / "clients.jsonl"
    path.write_bytes(edit(path.read_bytes()))
    eve = LineMemo({}.get, SALT)
    first_pass(export, None, memo=eve)
    _tonight(export, eve.fresh.get)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_night_whose_file_is_empty_reads_the_whole_input(export, jobs):
    eve = LineMemo({}.get, SALT)
    first_pass(export, None, memo=eve)
    (export / "clients.jsonl").write_bytes(b"")
    with spill_folder() as spill, pytest.raises(stream.WholeInputNeeded):
        first_pass(export, spill, jobs=jobs, memo=LineMemo(eve.fresh.get, SALT))


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


@pytest.mark.parametrize("memo", [None, LineMemo({}.get, SALT)])
def test_chunks_end_where_the_lines_say_whatever_the_reads(export, monkeypatch, memo):
    # Read a few lines at a time or the whole file at once, a JSON Lines file's chunks are the
    # same lines at the same places: a memo's chunk is found again whatever its neighbours' sizes.
    path = export / "clients.jsonl"
    raw = path.read_bytes()

    def chunks(read_bytes):
        monkeypatch.setattr(stream, "READ_BYTES", read_bytes)
        return list(stream._chunks(path, "clients.jsonl", len(raw), memo))
    whole = chunks(len(raw) + 1)
    assert chunks(100) == whole
    assert b"".join(b"".join(lines) for _offset, _number, lines in whole) == raw
    assert [(offset, number) for offset, number, _lines in whole] == \
        [(sum(len(line) for _o, _n, chunk in whole[:k] for line in chunk),
          sum(len(chunk) for _o, _n, chunk in whole[:k])) for k in range(len(whole))]
    sizes = {len(lines) for _offset, _number, lines in whole[:-1]}
    assert max(sizes) <= stream.MOST_LINES and (memo is not None or sizes == {stream.MOST_LINES})


@pytest.mark.parametrize("edit", [
    lambda raw: raw,
    lambda raw: raw[:-1],                                                       # no line break at the end
    lambda raw: raw.replace(b"}\n", b"}\r\n", 12),                              # lines ended by CRLF
    lambda raw: raw[:9000] + b"x" * 9000 + raw[9000:],                          # a line longer than a range
    _repeated,
])
@pytest.mark.parametrize("cut", [0, 64])
def test_ranges_tile_the_file_at_line_ends(export, edit, cut):
    # The pool's ranges (line_chunks.ranges, read into one buffer): one after another over the
    # whole file, each ending at a line end (with a cut, at the end of a memo's chunk), its lines
    # counted, and the input read whole (TooLarge) when a range would end beyond the limit.
    path = export / "clients.jsonl"
    path.write_bytes(edit(path.read_bytes()))
    raw = path.read_bytes()
    found = list(line_chunks.ranges(3, path, len(raw), cut))
    assert [item[2] for item in found] == [sum(item[4] for item in found[:k]) for k in range(len(found))]
    assert [item[3] for item in found] == [raw[:item[2]].count(b"\n") for item in found]
    assert sum(item[4] for item in found) == len(raw)
    assert [item[6] for item in found] == [False] * (len(found) - 1) + [True]
    for file_no, name, start, _number, size, lines, _last in found:
        block = raw[start:start + size]
        assert (file_no, name, lines) == (3, str(path), block.count(b"\n"))
        assert block.endswith(b"\n") or start + size == len(raw)
        last_line = block[block.rfind(b"\n", 0, len(block) - 1) + 1:]
        assert not cut or start + size == len(raw) or zlib.crc32(last_line) & 255 < cut
    assert len(found) > 3
    with pytest.raises(line_chunks.TooLarge):
        list(line_chunks.ranges(3, path, found[-1][2] + 1, cut))
