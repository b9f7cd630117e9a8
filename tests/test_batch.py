"""Several evaluations through one worker pool (checker.engine.batch, what `rules test` runs its
cases with): each request gets exactly what evaluate() gives it alone, and a crash still fails
only the partition it happened in."""
import datetime as dt
import os
import signal

import pytest

from checker.engine.batch import Request, evaluate_many
from checker.engine.evaluate import EngineJudge, evaluate
from checker.pipeline import judged_rules, load_input
from tests.helpers import shipped_rules

RULES, PARAMS = shipped_rules()


@pytest.fixture(scope="module")
def demo():
    loaded = load_input("fixtures/demo-cb")
    assert not loaded.problems
    return loaded.index, judged_rules(RULES, PARAMS, loaded)


def _alone(request: Request):
    return evaluate(request.index, request.rules, request.params, request.as_of, withheld=request.withheld,
                    only_partitions=request.only_partitions)


def test_each_request_gets_what_evaluate_gives_it_alone(demo):
    index, rules = demo
    saltmarsh_record = next(rid for rid, client in index.owner_client.items() if client == "saltmarsh")
    requests = [Request(index, rules, PARAMS.values(), dt.date(2026, 11, 25)),
                Request(index, rules[:60], PARAMS.values(), dt.date(2025, 3, 1), withheld={saltmarsh_record}),
                Request(index, rules, {**PARAMS.values(), "audit_report_max_days": 5}, dt.date(2026, 6, 1),
                        only_partitions={"saltmarsh", "__cb__"})]
    batched = evaluate_many(requests)
    assert batched == [_alone(r) for r in requests]
    assert batched[0].findings and batched[1].not_evaluated["input_errors"] == ["saltmarsh"]
    assert batched[2].partitions == 2


def test_a_crash_fails_only_its_partition_of_its_request(demo, monkeypatch):
    index, rules = demo
    requests = [Request(index, rules, PARAMS.values(), dt.date(2025, 6, 1)),
                Request(index, rules, PARAMS.values(), dt.date(2026, 6, 1))]
    expected = [_alone(r) for r in requests]
    real = EngineJudge.judge

    def crash_on_saltmarsh_in_2026(self, state, task):
        if task.sid == "saltmarsh" and self.as_of_year == 2026:
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(self, state, task)
    monkeypatch.setattr(EngineJudge, "judge", crash_on_saltmarsh_in_2026)
    first, second = evaluate_many(requests)
    assert first == expected[0]
    assert [(p.file, "signal 11" in p.message) for p in second.partition_errors] == [("partition saltmarsh", True)]
    assert second.findings == [f for f in expected[1].findings if f["client"] != "saltmarsh"]
    assert second.not_evaluated["engine_failure"] == ["saltmarsh"]
