"""Verdicts folded as they come (engine/driver.Collector): the evaluation does not depend on the
order a runner gives them in, a runner's lost or doubled verdict is an error, and what a
streamed run's clients give the CB-wide partition (engine/streamed.CbInputs), added up as it
comes and set aside, gives the CB-wide kinds' pseudo-records and their places."""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from checker.engine import driver, workers
from checker.engine.driver import Task, Verdict, drive, paired, run_here, shared_records
from checker.engine.findings import FINDING_KEYS, packed_finding, unpacked_finding
from checker.engine.reference import ReferenceJudge
from checker.engine import shelf as shelf_module
from checker.engine.shelf import Shelf
from checker.derive import cb_shares, derive_cb_wide
from checker.engine.streamed import CbInputs, _Unanswered
from checker.pipeline import judged_rules, load_input, load_rules
from checker.records.spill import spill_folder
from checker.records.stream import Located

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-cb"
AS_OF = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def demo():
    catalog = load_rules(None, None)
    loaded = load_input(DEMO)
    assert not catalog.problems and not loaded.problems
    rules = judged_rules(catalog.rules, catalog.params, loaded)
    return loaded.index, rules, catalog.params.values()


def _evaluation(demo, order):
    """The demo's reference evaluation, its verdicts given to the collector in `order(verdicts)`."""
    index, rules, params = demo
    judge = ReferenceJudge(rules, params, AS_OF, shared_records(index))
    return drive(index, rules, params, AS_OF, judge, run=lambda tasks, j: order(list(run_here(tasks, j))))


def test_verdicts_in_any_order_give_the_evaluation_of_the_sid_order(demo, monkeypatch):
    # Sorted by standard alone, findings of several partitions tie: they must stay in sid order
    # (and each partition's in its own order), as when every verdict was kept until the end.
    monkeypatch.setattr(driver, "finding_sort_key", lambda finding: finding["standard"])
    in_order = _evaluation(demo, lambda verdicts: sorted(verdicts, key=lambda v: v.sid))
    assert len(in_order.findings) > 10 and in_order.partitions > 3
    for seed in range(3):
        shuffled = _evaluation(demo, lambda verdicts, s=seed: random.Random(s).sample(verdicts, len(verdicts)))
        assert shuffled.findings == in_order.findings        # messages, locations, fingerprints, order
        assert (shuffled.applied, shuffled.facts, shuffled.partitions) == (in_order.applied, in_order.facts,
                                                                          in_order.partitions)


@pytest.mark.parametrize("where", ["spill", "nowhere"])
def test_findings_set_aside_on_a_shelf_come_back_the_same_in_the_same_order(demo, where):
    index, rules, params = demo
    judge = ReferenceJudge(rules, params, AS_OF, shared_records(index))
    tasks, _held = driver.partition_tasks(index, rules, params, set())
    verdicts = list(run_here(tasks, judge))
    plain = driver.Collector(rules, params, AS_OF, lambda _verdict: index.by_id)
    with spill_folder(wanted=True) as spill, Shelf(spill.folder) as shelf:
        if where == "nowhere":          # no file could be made: kept in memory, packed
            shelf.close()
        shelved = driver.Collector(rules, params, AS_OF, lambda _verdict: index.by_id, shelf)
        for task, verdict in zip(tasks, verdicts):
            plain.add(task, verdict)
            shelved.add(task, verdict)
        assert shelved.found and set(shelved.found.values()) == {None}      # every partition's on the shelf
        kept = shelf.stored.values()
        assert all(isinstance(place, int) for place in kept) if where == "spill" else all(
            isinstance(packed, tuple) for packed in kept)
        expected, got = plain.evaluation().findings, shelved.evaluation().findings
    assert len(expected) > 10
    assert json.dumps(got) == json.dumps(expected)      # the same values, keys in the same order


def test_a_finding_not_as_make_finding_made_it_is_not_packed(demo):
    _index, rules, _params = demo
    by_id = {rule.id: rule for rule in rules}
    rule = rules[0]
    finding = {key: getattr(rule, key, None) for key in FINDING_KEYS}
    finding.update(rule_id=rule.id, related=[{"binding": "x", "line": 3}], line=7, message="m")
    assert unpacked_finding(packed_finding(finding, by_id), by_id) == finding
    assert packed_finding({**finding, "title": rule.title + " "}, by_id) is None      # not its rule's
    assert packed_finding({**finding, "waived": True}, by_id) is None                 # a key more
    assert packed_finding({**finding, "rule_id": "NO-SUCH-RULE"}, by_id) is None


def test_a_shelf_keeps_in_memory_what_it_cannot_write():
    with Shelf() as shelf:
        shelf.put("a", [("x", 1, None, {"k": [2]})])
        shelf.put("b", {"when": dt.date(2025, 1, 1)})       # marshal cannot write a date
        shelf.put("c", 5)
        assert isinstance(shelf.stored["a"], int) and shelf.stored["b"] == ({"when": dt.date(2025, 1, 1)},)
        assert [shelf.get(key) for key in "abc"] == [[("x", 1, None, {"k": [2]})], {"when": dt.date(2025, 1, 1)}, 5]
    with pytest.raises(KeyError):
        shelf.get("d")


def test_a_verdict_lost_or_given_twice_by_a_runner_is_an_error():
    tasks = [Task("a", "client", []), Task("b", "client", [])]
    with pytest.raises(RuntimeError, match="no verdict for partition"):
        list(paired(tasks, [Verdict("a", True)]))
    with pytest.raises(RuntimeError, match="second or unasked-for verdict, for partition a"):
        list(paired(tasks, [Verdict("a", True), Verdict("a", True), Verdict("b", True)]))
    assert [task.sid for task, _v in paired(tasks, [Verdict("b", True), Verdict("a", True)])] == ["b", "a"]


def test_a_lazy_sequence_of_tasks_is_paired_by_its_own_waiting_without_making_them_again():
    made = []
    fake = SimpleNamespace(sids=["a", "b", "c"], judged=lambda sid: made.append(sid) or sid != "b")
    tasks = SimpleNamespace(waiting=lambda: _Unanswered(fake))
    pairs = [(task.sid, task.judged, verdict.sid) for task, verdict in paired(tasks, [Verdict(s, True) for s in "cab"])]
    assert pairs == [("c", True, "c"), ("a", True, "a"), ("b", False, "b")] and made == ["c", "a", "b"]
    with pytest.raises(RuntimeError, match="no verdict for partition.s. a, c"):
        list(paired(tasks, [Verdict("b", True)]))
    for wrong in ("b", "d", "0"):       # given twice, never asked for (after the last, before the first)
        with pytest.raises(RuntimeError, match=f"second or unasked-for verdict, for partition {wrong}"):
            list(paired(tasks, [Verdict("b", True), Verdict(wrong, True)]))


def test_the_pool_takes_a_chunk_of_tasks_only_when_it_sends_one():
    taken = []

    def chunks():
        for k in range(5):
            taken.append(k)
            yield [Task(str(k), "client", [])]
    pool = workers._Pool(None, 0)        # no worker: nothing is sent
    pool.begin(None, chunks(), None)
    assert taken == []
    assert pool.more() and pool.more() and taken == [0]
    assert [task.sid for task in pool.pending.popleft()] == ["0"] and pool.more() and taken == [0, 1]
    pool.pending.clear()
    assert sum(pool.more() and bool(pool.pending.popleft()) for _ in range(4)) == 3 and taken == [0, 1, 2, 3, 4]


def _given(sid: str, n: int) -> tuple[list[dict], dict]:
    """A client's `n` certificates and their cb_shares: the first carries the number every
    client's first carries, the second the number every client's second carries, the others
    their own."""
    certs = [{"type": "certificate", "id": f"{sid}-cert{k}", "client": sid,
              "number": ("SHARED", "TWICE")[k] if k < 2 else f"{sid}-{k}"} for k in range(n)]
    return certs, cb_shares(certs, {})


@pytest.mark.parametrize("where", ["spill", "temporary", "nowhere", "written", "unwritable"])
def test_cb_inputs_tally_what_the_clients_gave_reading_again_only_what_a_shared_number_needs(where, monkeypatch):
    given = {sid: _given(sid, n) for sid, n in (("c3", 2), ("c1", 2), ("c2", 0), ("c4", 3), ("c0", 1))}
    given["c4"][1]["odd"] = dt.date(2025, 1, 1)    # a value marshal cannot write: kept in memory as given
    read = []
    with spill_folder(wanted=where == "spill") as spill:
        store = CbInputs({}, spill if where == "spill" else None)
        if where == "nowhere":                 # no temporary file could be made: kept in memory
            store.shelf.close()
        if where in ("written", "unwritable"):     # each client's written at once (read back from the file),
            store.shelf.WRITE_BYTES = 1            # or, the disk full, kept in the buffer and read from there
            if where == "unwritable":
                monkeypatch.setattr(shelf_module.os, "pwrite", lambda *_a: (_ for _ in ()).throw(OSError(28, "full")))
        monkeypatch.setattr(store, "_read", lambda sid, read_as=store._read: read.append(sid) or read_as(sid))
        with store:
            for sid, (_certs, shares) in given.items():
                store.add(sid, shares)
            kept = store.shelf
            assert isinstance(kept.stored["c4"], tuple) and isinstance(kept.stored["c3"], int) == (where != "nowhere")
            assert (kept.start > 0) == (where == "written") and bool(kept.buffer) == (where in ("spill", "temporary", "unwritable"))
            pseudo = store.derived()
    assert pseudo == derive_cb_wide([c for sid in sorted(given) for c in given[sid][0]], {})
    assert [p["certificates"] for p in pseudo] == ["c0-cert0 (c0), c1-cert0 (c1), c3-cert0 (c3), c4-cert0 (c4)",
                                                   "c1-cert1 (c1), c3-cert1 (c3), c4-cert1 (c4)"]
    assert read == ["c0", "c1", "c3", "c4"]


def test_counts_per_group_sum_over_batches_of_verdicts_and_a_wrong_length_is_an_error():
    counts = driver._GroupCounts(3)
    given = [(i, 2 * i, i % 7) for i in range(2 * driver._GroupCounts.BATCH + 5)]
    for row in given:
        counts.add(row)
    assert counts.summed() == [sum(column) for column in zip(*given)]
    counts.add((1, 1, 1))
    assert counts.summed() == [sum(column) + 1 for column in zip(*given)]
    with pytest.raises(ValueError, match="counted 2 groups of alternatives, its scope has 3"):
        counts.add((1, 1))
