"""The load generator's own CPU: is Locust, not the server, the bottleneck?

A Locust process is one gevent thread: past ~90% of a core it delays its own users and its
timings, and the numbers describe Locust rather than the server. Locust itself samples every
10 s and only logs a warning; :class:`CpuSampler` samples every Locust process of a run (the
one process, or the master and each worker) once a second from the orchestration, and
:func:`summarize` turns the samples into what ``run.json`` records and the console warns
about.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import psutil

THRESHOLD_PCT: Final = 90.0  # Locust's own CPU_WARNING_THRESHOLD
INTERVAL_S: Final = 1.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def summarize(
    samples: dict[tuple[str, int, int], list[float]], interval_s: float = INTERVAL_S
) -> dict[str, Any]:
    """Per process (role, index, pid): its samples' mean, p95 and max (% of one core) and
    the seconds it spent above the threshold; which processes passed it, and the warning."""
    processes = []
    for (role, index, pid), values in samples.items():
        entry: dict[str, Any] = {"role": role, "index": index, "pid": pid, "samples": len(values)}
        if values:
            entry |= {
                "cpu_mean": round(sum(values) / len(values), 1),
                "cpu_p95": round(_p95(values), 1),
                "cpu_max": round(max(values), 1),
                "seconds_over_threshold": round(
                    interval_s * sum(v > THRESHOLD_PCT for v in values), 1
                ),
            }
        processes.append(entry)
    hot = [p for p in processes if p.get("cpu_p95", 0.0) > THRESHOLD_PCT]
    names = [f"{p['role']} {p['index']}" if p["role"] == "worker" else p["role"] for p in hot]
    warning = None
    if hot:
        worst = max(p["cpu_p95"] for p in hot)
        warning = (
            f"load generator near its limit: {', '.join(names)} at p95 {worst:.0f}% of a core "
            f"(over {THRESHOLD_PCT:.0f}%); Locust may be the bottleneck, not the server: add "
            "--locust-workers"
        )
    return {
        "threshold_pct": THRESHOLD_PCT,
        "interval_s": interval_s,
        "processes": processes,
        "over_threshold": names,
        "warning": warning,
    }


class CpuSampler:
    """Samples the watched processes' CPU on a background thread until :meth:`stop`."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._watched: dict[tuple[str, int, int], psutil.Process] = {}
        self._samples: dict[tuple[str, int, int], list[float]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="loadgen-cpu", daemon=True)

    def watch(self, role: str, index: int, pid: int) -> None:
        """Sample process ``pid`` (``role`` single, master or worker) from now on."""
        key = (role, index, pid)
        try:
            process = psutil.Process(pid)
            process.cpu_percent(None)  # the first call only sets the baseline
        except psutil.Error:
            return
        with self._lock:
            self._watched[key] = process
            self._samples[key] = []
        if not self._thread.is_alive():
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                for key, process in list(self._watched.items()):
                    try:
                        self._samples[key].append(process.cpu_percent(None))
                    except psutil.Error:  # it ended
                        del self._watched[key]

    def stop(self) -> dict[str, Any]:
        """Stop sampling; the summary of what was sampled."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval_s * 2)
        with self._lock:
            return summarize({k: list(v) for k, v in self._samples.items()}, self.interval_s)
