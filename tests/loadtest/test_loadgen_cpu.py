"""The load generator's CPU: sampled per Locust process, summarized, warned about."""

from __future__ import annotations

import subprocess
import sys
import time

from chatkit_pg.loadtest.orchestration.loadgen_cpu import THRESHOLD_PCT, CpuSampler, summarize


def test_a_process_past_the_threshold_is_named_in_the_warning() -> None:
    summary = summarize(
        {
            ("master", 0, 10): [3.0, 4.0, 5.0],
            ("worker", 0, 11): [40.0, 45.0, 50.0],
            ("worker", 1, 12): [80.0, 95.0, 96.0, 97.0],
        }
    )
    by_name = {(p["role"], p["index"]): p for p in summary["processes"]}
    hot = by_name[("worker", 1)]
    assert hot["cpu_p95"] == 97.0 and hot["cpu_max"] == 97.0 and hot["samples"] == 4
    assert hot["seconds_over_threshold"] == 3.0
    assert summary["over_threshold"] == ["worker 1"]
    assert "worker 1" in summary["warning"] and "--locust-workers" in summary["warning"]
    assert summary["threshold_pct"] == THRESHOLD_PCT


def test_below_the_threshold_there_is_no_warning() -> None:
    summary = summarize({("single", 0, 10): [20.0, 89.0, 30.0]})
    assert summary["warning"] is None and summary["over_threshold"] == []


def test_the_sampler_follows_a_real_process_until_it_ends() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2.5)"])
    sampler = CpuSampler(interval_s=0.2)
    sampler.watch("single", 0, child.pid)
    child.wait()
    time.sleep(0.5)  # samples after the end are dropped, not errors
    summary = sampler.stop()
    (process,) = summary["processes"]
    assert process["pid"] == child.pid and process["samples"] >= 3
    assert process["cpu_max"] < THRESHOLD_PCT  # a sleeping process is no load
