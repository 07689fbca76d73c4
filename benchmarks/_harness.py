"""Timing and machine-state helpers shared by the benchmarks: steady-state step timing,
glibc's huge-page malloc for the measured processes, the load average and the other busy
processes (read from /proc), waiting for a quiet machine, and medians of ratios with a
bootstrap interval.
"""

from __future__ import annotations

import os
import time

HUGETLB = "glibc.malloc.hugetlb=1"  # why: docs/performance.md (the BiLSTM benchmark)


def hugetlb_env(env: dict | None = None) -> dict:
    """``env`` (default: this process's) with glibc's THP malloc tunable added."""
    env = dict(os.environ if env is None else env)
    if HUGETLB not in env.get("GLIBC_TUNABLES", ""):
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), HUGETLB]))
    return env


def time_steps(run_step, steps: int, repeats: int) -> list[float]:
    """Seconds per step for each repeat; ``run_step()`` must block until done."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            run_step()
        out.append((time.perf_counter() - t0) / steps)
    return out


def _cpu_ticks() -> dict[int, tuple[str, int]]:
    """``{pid: (command, utime + stime ticks)}`` of every process /proc lets us read."""
    ticks = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:  # gone, or not ours to read
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ticks[int(name)] = (comm, int(fields[11]) + int(fields[12]))  # utime, stime
    return ticks


def busy_processes(seconds: float = 1.0, threshold: float = 0.1) -> list[dict]:
    """Processes other than this one that used more than ``threshold`` of a core over
    ``seconds``: ``[{"pid", "command", "cores"}]``, busiest first."""
    hz = os.sysconf("SC_CLK_TCK")
    before = _cpu_ticks()
    time.sleep(seconds)
    after = _cpu_ticks()
    busy = []
    for pid, (comm, t1) in after.items():
        if pid == os.getpid() or pid not in before:
            continue
        cores = (t1 - before[pid][1]) / hz / seconds
        if cores > threshold:
            busy.append({"pid": pid, "command": comm, "cores": round(cores, 2)})
    return sorted(busy, key=lambda b: -b["cores"])


def machine_state(quiet_load: float) -> dict:
    """The load averages, the other busy processes and whether the machine is quiet
    (1-minute load under ``quiet_load`` and no other busy process)."""
    busy = busy_processes()
    load = os.getloadavg()
    return {
        "load": [round(x, 2) for x in load],
        "busy": busy,
        "quiet": load[0] < quiet_load and not busy,
    }


def wait_quiet(quiet_load: float, seconds: float, poll: float = 15.0) -> dict:
    """Waits up to ``seconds`` for a quiet machine; the last ``machine_state`` with
    ``waited_s``."""
    start = time.monotonic()
    while True:
        state = machine_state(quiet_load)
        waited = time.monotonic() - start
        if state["quiet"] or waited >= seconds:
            return state | {"waited_s": round(waited, 1)}
        time.sleep(min(poll, max(0.0, seconds - waited)))


def median_ratio(num: list[float], den: list[float]) -> dict:
    """The median of per-repeat ratios ``num[r] / den[r]`` and a 95% bootstrap interval
    of that median (scipy's BCa; percentile where BCa degenerates); no interval with
    fewer than 2 repeats."""
    import numpy as np

    ratios = np.asarray(num, float) / np.asarray(den, float)
    out = {"median": float(np.median(ratios)), "n": len(ratios), "low": None, "high": None}
    if len(ratios) < 2 or np.ptp(ratios) == 0:
        return out
    from scipy import stats

    for method in ("BCa", "percentile"):
        ci = stats.bootstrap(
            (ratios,),
            np.median,
            confidence_level=0.95,
            method=method,
            n_resamples=9999,
            rng=np.random.default_rng(0),
        ).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            return out | {"low": float(ci.low), "high": float(ci.high), "method": method}
    return out
