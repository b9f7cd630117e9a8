"""`cbcheck check --dask ADDRESS`: the partitions run as tasks on a dask.distributed cluster.

One LocalCluster of two worker processes (one thread each, as the README tells users to
start `dask worker`) serves the whole module. The report must be byte-identical to --jobs 1;
a partition whose engine dies fails alone, and so does one whose dask worker dies; a
scheduler that does not answer is exit 2 with what to do."""
from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[dask]')")
import cloudpickle  # noqa: E402  (distributed's dependency, there whenever distributed is)
import dask  # noqa: E402

from checker.engine.dask_runner import DaskCluster  # noqa: E402
from checker.engine.driver import partition_tasks, shared_records  # noqa: E402
from checker.engine.evaluate import EngineJudge, compile_catalog  # noqa: E402
from checker.engine.workers import run_partitions  # noqa: E402
from checker.pipeline import judged_rules, load_input  # noqa: E402
from cli import main  # noqa: E402
from helpers import shipped_rules  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
AS_OF = dt.date(2026, 11, 25)

# The judges below are defined here, so the workers' engine processes get them by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    # allowed-failures 0: a task whose dask worker dies is given up at once, not after three
    # more worker restarts. worker-saturation 1.0: a one-thread worker holds only the task it
    # runs, so a worker's death concerns that task alone (see the README).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as local:
            yield local.scheduler_address


def _run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_demo_report_is_byte_identical_to_jobs_1(cluster, tmp_path):
    for how in (("--jobs", "1"), ("--dask", cluster)):
        name = how[0].strip("-")
        code, _out = _run("check", DEMO, "--as-of", AS_OF, "--format", "json", "-o", tmp_path / f"{name}.json",
                          "--also", f"text={tmp_path / f'{name}.txt'}", "--quiet", *how)
        assert code == 1          # the demo has planted major findings
    for suffix in ("json", "txt"):
        assert (tmp_path / f"dask.{suffix}").read_bytes() == (tmp_path / f"jobs.{suffix}").read_bytes()
    assert b'"findings": []' not in (tmp_path / "dask.json").read_bytes()


@pytest.fixture(scope="module")
def demo():
    """The demo's tasks, its judge, and the verdicts of the local pool (--jobs 1) to hold the
    cluster's to."""
    rules, params = shipped_rules()
    loaded = load_input(DEMO)
    judged = judged_rules(rules, params, loaded)
    catalog = compile_catalog(judged, AS_OF.isoformat())
    judge = EngineJudge(catalog.rulesets, params.values(), AS_OF.year, catalog.memberships, shared_records(loaded.index))
    tasks, _held = partition_tasks(loaded.index, judged, params.values(), set())
    return tasks, judge, run_partitions(tasks, judge, jobs=1)


class EngineDiesOn(EngineJudge):
    """Ends its own process (the engine's) on one partition, as a crash of the C core would."""
    victim = ""

    def judge(self, state, task):
        if task.sid == self.victim:
            os._exit(7)
        return super().judge(state, task)


class WorkerDiesOn(EngineJudge):
    """Kills the dask worker hosting the engine on one partition (out of memory, say)."""
    victim = ""

    def judge(self, state, task):
        if task.sid == self.victim:
            os.kill(os.getppid(), signal.SIGKILL)
        return super().judge(state, task)


def _crash_run(cluster, demo, judge_class):
    tasks, judge, expected = demo
    crashing = judge_class(judge.rulesets, judge.params, judge.as_of_year, judge.memberships, judge.shared)
    crashing.victim = tasks[1].sid
    with DaskCluster(cluster, batch=3) as dask_cluster:     # batches of 3: the victim's batch-mates must not suffer
        verdicts = dask_cluster.run(tasks, crashing)
    assert sorted(verdicts) == sorted(expected)
    for sid, verdict in verdicts.items():
        if sid != crashing.victim:
            assert verdict.ok and verdict.matches == expected[sid].matches, sid
    return verdicts[crashing.victim]


def test_an_engine_that_dies_fails_only_its_partition(cluster, demo):
    failed = _crash_run(cluster, demo, EngineDiesOn)
    assert not failed.ok and failed.error == "the engine process died (exit code 7) while evaluating this partition"


def test_a_dask_worker_that_dies_fails_only_its_partition(cluster, demo):
    failed = _crash_run(cluster, demo, WorkerDiesOn)
    assert not failed.ok and "dask worker evaluating this partition died, as often as the scheduler allows" in failed.error


def test_an_unreachable_scheduler_is_exit_2_with_what_to_do():
    with socket.socket() as s:           # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):   # as DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=1s
        code, out = _run("check", DEMO, "--dask", f"tcp://127.0.0.1:{port}", "--quiet")
    assert code == 2
    assert f"no dask scheduler answered at tcp://127.0.0.1:{port} within 1 s" in out
    assert "start one with `dask scheduler`" in out and "Traceback" not in out


def test_dask_not_installed_is_exit_2_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)      # what `import distributed` meets without the extra
    code, out = _run("check", DEMO, "--dask", "tcp://127.0.0.1:8786", "--quiet")
    assert code == 2 and "dask.distributed is not installed" in out and "pip install 'cbcheck[dask]'" in out


def test_jobs_and_dask_are_exclusive():
    code, out = _run("check", DEMO, "--jobs", "2", "--dask", "tcp://127.0.0.1:8786")
    assert code == 2 and "--jobs and --dask are exclusive" in out
