"""Verdicts folded as they come (engine/driver.Collector): the evaluation does not depend on the
order a runner gives them in, a runner's lost or doubled verdict is an error, and a streamed
run's CB-wide inputs set aside (engine/streamed.CbInputs) read back as they were given."""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from checker.engine import driver
from checker.engine.driver import Task, Verdict, drive, paired, run_here, shared_records
from checker.engine.reference import ReferenceJudge
from checker.engine.streamed import CbInputs
from checker.pipeline import judged_rules, load_input, load_rules
from checker.records.spill import spill_folder
from checker.records.stream import InternedData, Located

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


def test_a_verdict_lost_or_given_twice_by_a_runner_is_an_error():
    tasks = [Task("a", "client", []), Task("b", "client", [])]
    with pytest.raises(RuntimeError, match="no verdict for partition"):
        list(paired(tasks, [Verdict("a", True)]))
    with pytest.raises(RuntimeError, match="second or unasked-for verdict, for partition a"):
        list(paired(tasks, [Verdict("a", True), Verdict("a", True), Verdict("b", True)]))
    assert [task.sid for task, _v in paired(tasks, [Verdict("b", True), Verdict("a", True)])] == ["b", "a"]


def _inputs(sid: str, n: int) -> list:
    return [(InternedData({"id": f"{sid}-cert{k}", "type": "certificate", "sites": ["HQ", {"k": [1, 2.5, None]}],
                           "big": 2 ** 70, "flag": True}),
             Located("certificate", "clients.jsonl", f"/{k}", {"": 3 + k, f"/{k}/id": 4 + k}, 3))
            for k in range(n)]


@pytest.mark.parametrize("where", ["spill", "temporary", "nowhere"])
def test_cb_inputs_read_back_in_sid_order_as_they_were_given_their_places_when_asked(tmp_path, where):
    given = {sid: _inputs(sid, n) for sid, n in (("c3", 2), ("c1", 1), ("c2", 0), ("c0", 3))}
    given["c1"][0][0]["odd"] = dt.date(2025, 1, 1)   # a value marshal cannot write: kept in memory as given
    with spill_folder(wanted=where == "spill") as spill:
        store = CbInputs(spill if where == "spill" else None)
        if where == "nowhere":                 # no temporary file could be made: kept in memory
            store.file.close()
            store.file = None
        with store:
            for sid, inputs in given.items():
                store.add(sid, inputs)
            data, located = store.data(), store.located({"c0-cert2", "c1-cert0", "c3-cert1", "c9-cert0"})
            everywhere = store.located({d["id"] for sid in given for d, _p in given[sid]})
    expected = [pair for sid in sorted(given) for pair in given[sid]]
    assert [dict(d) for d in data] == [dict(d) for d, _p in expected]
    assert {rid: vars(place) for rid, place in everywhere.items()} == {d["id"]: vars(p) for d, p in expected}
    assert {rid: vars(place) for rid, place in located.items()} == {
        rid: vars(p) for d, p in expected if (rid := d["id"]) in {"c0-cert2", "c1-cert0", "c3-cert1"}}
