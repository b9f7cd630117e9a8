"""benchmarks/measure.py: the process tree's peak memory is sampled to the end, and a sampler
that stops early fails the measurement instead of reporting a peak that is too low."""
import subprocess
import sys

import pytest

from benchmarks import measure as measuring


def test_a_process_that_is_gone_has_no_children():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert measuring.descendants(gone.pid) == [gone.pid]
    assert measuring.pss_kb(gone.pid) == 0


def test_the_tree_is_measured_with_its_children():
    child = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.4)'])"
    m = measuring.measure([sys.executable, "-c", child])
    assert m.returncode == 0
    assert m.peak_pss_mb > 1
    assert m.wall >= 0.4


def test_a_sampler_that_stops_fails_the_measurement(monkeypatch):
    def broken(_pid):
        raise FileNotFoundError("/proc/1/task")
    monkeypatch.setattr(measuring, "descendants", broken)
    with pytest.raises(RuntimeError, match="memory sampler stopped"):
        measuring.measure([sys.executable, "-c", "pass"])
