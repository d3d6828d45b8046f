"""Benchmark 4: collector throughput — 16 emulators sending as fast as they can.

Three measurements, so that it is clear which side limits:
  A. the emulator alone: 1 emulator, and 16 emulators, at ``-interval 0``, read by a raw socket client
     that only counts lines (``rnd=`` occurrences) for a few seconds: what the senders can produce here;
  B. the collector: ``Run`` with 16 emulators at interval 1e-6 (the smallest the API accepts; the
     emulator then never sleeps), ``-lead 1.5`` so that every worker is connected before the flood
     starts, stall_after 10 s. Figures: samples/s recorded into the event log while all 16 stream,
     and CPU seconds of the collecting process per 100k samples (resource.getrusage from the last
     progress tick before the first sample to the end of the run, before the frame is built; the
     frame build is reported apart). The emulators' CPU (from /proc) over the same span shows who
     uses the cores. Run twice: as is, and with the emulators at nice 10 (every thread, and the
     scheduler autogroup of each: every worker has its own session, and with autogroups on, Linux
     shares the CPUs between sessions first, so 16 busy workers leave the collector 1/17 of them
     whatever the threads' nice values), which shows what the collector keeps up with when it is not
     sharing the CPUs evenly with 16 senders. Also with 1 worker;
  C. a cProfile of the collecting process in the niced run of B: where its time goes.
Goal: >= 200,000 samples/s recorded, measured as is (B, first variant).
Writes benchmarks/results/throughput.json; exit 1 if the goal is missed.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Bench  # noqa: E402

from workerlab.config import make_config  # noqa: E402
from workerlab.engine.collector import Run  # noqa: E402

WORKERS = 16
SAMPLES = 400_000
PROFILE_SAMPLES = 200_000
LEAD = 1.5
RAW_SECONDS = 3.0
GOAL = 200_000
EMULATOR = ROOT / "workerlab" / "worker" / "emulator.py"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids, seen: dict[int, float] | None = None) -> float:
    """utime + stime (seconds) of the processes ``pids``, all threads.

    With ``seen`` (pid -> last reading), a process that has exited counts with its last reading.
    """
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            if seen is not None:
                seen[pid] = cpu
        except (OSError, IndexError, ValueError):
            cpu = seen.get(pid, 0.0) if seen is not None else 0.0
        total += cpu
    return total


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def renice(pids, niceness: int) -> None:
    """Lower the CPU weight of every process in ``pids``: each thread's nice value, and, since every
    worker runs in its own session, the nice value of its scheduler autogroup. (With autogroups on,
    the kernel shares the CPUs between sessions first: 16 busy workers, 16 sessions, would leave the
    collector 1/17 of them whatever the threads' nice values say.)"""
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/autogroup", "w") as f:
                f.write(str(niceness))
        except OSError:
            pass


def autogroups_enabled() -> bool:
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


# -- A: the emulator alone ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_alone(n: int, seconds: float = RAW_SECONDS) -> dict:
    """Lines/s that ``n`` emulators deliver to a client that only counts them."""
    import selectors

    procs, socks = [], []
    try:
        for w in range(n):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        "-S",
                        str(EMULATOR),
                        "-workerId",
                        str(w + 1),
                        "-port",
                        str(port),
                        "-mtbf",
                        "0",
                        "-interval",
                        "0",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            deadline = time.monotonic() + 10
            while True:
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port)))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("emulator not listening after 10 s") from None
                    time.sleep(0.005)
        sel = selectors.DefaultSelector()
        for s in socks:
            s.sendall(b"GET /rnd?n=1000000000 HTTP/1.1\r\nHost: bench\r\n\r\n")
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        lines, warm = 0, time.monotonic() + 0.5
        t0 = cpu0 = ecpu0 = None
        while True:
            now = time.monotonic()
            if t0 is None and now >= warm:
                t0, cpu0, ecpu0, lines = now, own_cpu(), cpu_of(p.pid for p in procs), 0
            if t0 is not None and now - t0 >= seconds:
                break
            for key, _ in sel.select(0.5):
                data = key.fileobj.recv(1 << 20)
                lines += data.count(b"rnd=")  # one split across two reads is missed: negligible
        elapsed = time.monotonic() - t0
        return {
            "emulators": n,
            "lines_per_s": round(lines / elapsed),
            "client_cpu_share": round((own_cpu() - cpu0) / elapsed, 3),
            "emulators_cpu_share": round((cpu_of(p.pid for p in procs) - ecpu0) / elapsed, 3),
        }
    finally:
        for s in socks:
            s.close()
        for p in procs:
            p.kill()
            p.wait()


# -- B and C: the collector ------------------------------------------------------------------------


def collector(niced: bool, samples: int = SAMPLES, profile: bool = False, workers: int = WORKERS) -> dict:
    """One flood run through ``Run``; figures of the steady state (see the module docstring)."""
    cfg = make_config(
        workers, samples, interval=1e-6, mtbf=0, stall_after=10.0, worker_args=["-lead", str(LEAD)]
    )
    snaps: list[tuple] = []
    reniced: set[int] = set()
    seen: dict[int, float] = {}

    def on_update(run: Run) -> None:
        if niced:
            fresh = run.pids - reniced
            renice(fresh, 10)
            reniced.update(fresh)
        snaps.append((time.monotonic(), run.count, own_cpu(), cpu_of(run.pids, seen)))

    run = Run(cfg, progress=False, on_update=on_update)
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    asyncio.run(run.run())
    if prof:
        prof.disable()
    c0 = time.process_time()
    df = run.frame()
    frame_cpu = time.process_time() - c0
    before = [s for s in snaps if s[1] == 0]
    start, end = (before[-1] if before else snaps[0]), snaps[-1]
    samples_rows = df[df.event == "sample"]
    kept = samples_rows[samples_rows.kept.astype(bool)]
    t_all = float(samples_rows.groupby("pid").t.min().max())  # every stream has started
    window = kept[kept.t >= t_all]
    t_target = float(kept.t.max())
    # None when some stream only started after the target was reached
    rate_all = round(len(window) / (t_target - t_all)) if t_target - t_all > 0.5 else None
    t_first = float(samples_rows.t.min())
    out = {
        "workers": workers,
        "niced_emulators": niced,
        "samples": samples,
        "numbers_processed": len(samples_rows),
        "streams": int(samples_rows.pid.nunique()),
        "rate_all_streaming_per_s": rate_all,
        "rate_first_to_target_per_s": round(samples / (t_target - t_first)),
        "seconds_first_to_target": round(t_target - t_first, 3),
        "collector_cpu_s_per_100k": round((end[2] - start[2]) / end[1] * 1e5, 4),
        "collector_cpu_share": round((end[2] - start[2]) / (end[0] - start[0]), 3),
        "emulators_cpu_s_per_100k": round((end[3] - start[3]) / end[1] * 1e5, 4),
        "emulators_cpu_share": round((end[3] - start[3]) / (end[0] - start[0]), 3),
        "frame_build_cpu_s_per_100k": round(frame_cpu / len(df) * 1e5, 4),
    }
    if prof:
        out["profile"] = summarize_profile(prof)
    return out


def summarize_profile(prof: cProfile.Profile, top: int = 15) -> dict:
    """Top functions by own time, and own time grouped by where the code lives (% of the total)."""
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # tottime
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)

    def where(filename: str) -> str:
        for key, label in (
            ("aiohttp/streams", "aiohttp StreamReader (per chunk)"),
            ("aiohttp/client_proto", "aiohttp response protocol"),
            ("aiohttp/base_protocol", "aiohttp flow control (pause/resume)"),
            ("aiohttp", "aiohttp other"),
            ("workerlab/lines", "workerlab LineParser"),
            ("workerlab/collector", "workerlab collector (_consume etc.)"),
            ("workerlab/events", "event log build (from_records)"),
            ("pandas", "pandas"),
            ("numpy", "numpy"),
            ("asyncio", "asyncio event loop"),
            ("selectors", "asyncio event loop"),
        ):
            if key in filename:
                return label
        return "other" if filename != "~" else "built-ins (len, deque, select, ...)"

    groups: dict[str, float] = {}
    for (filename, _line, _name), v in st.stats.items():
        groups[where(filename)] = groups.get(where(filename), 0.0) + v[2]
    return {
        "total_s": round(total, 3),
        "by_area_pct": {
            k: round(100 * v / total, 1) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])
        },
        "top_functions": [
            {
                "function": f"{Path(fn).name}:{line}({name})" if fn != "~" else name,
                "calls": v[1],
                "own_s": round(v[2], 3),
                "own_pct": round(100 * v[2] / total, 1),
                "cumulative_s": round(v[3], 3),
            }
            for (fn, line, name), v in rows[:top]
        ],
    }


def main() -> int:
    bench = Bench(
        "throughput",
        "4. Collector throughput, 16 emulators at full speed",
        __doc__.split("\n\n")[0] + ": A = emulators alone with a counting client; B = the collector "
        f"(Run, 16 workers, {SAMPLES} samples, -lead {LEAD}), as is and with the emulators at nice 10; "
        f"C = cProfile of the collector ({PROFILE_SAMPLES} samples, emulators niced).",
    )
    one = emulator_alone(1)
    print(f"  A: 1 emulator alone: {one['lines_per_s']:,} lines/s", flush=True)
    sixteen = emulator_alone(WORKERS)
    print(f"  A: {WORKERS} emulators alone: {sixteen['lines_per_s']:,} lines/s", flush=True)
    as_is = collector(niced=False)
    print(f"  B: collector, as is: {as_is['rate_all_streaming_per_s']:,} samples/s", flush=True)
    niced = collector(niced=True)
    print(f"  B: collector, emulators niced: {niced['rate_all_streaming_per_s']:,} samples/s", flush=True)
    single = collector(niced=False, samples=PROFILE_SAMPLES, workers=1)
    print(f"  B: collector, 1 worker: {single['rate_all_streaming_per_s']:,} samples/s", flush=True)
    prof = collector(niced=True, samples=PROFILE_SAMPLES, profile=True)
    print(
        "  C: profile, own time by area: "
        + ", ".join(f"{k} {v}%" for k, v in list(prof["profile"]["by_area_pct"].items())[:6]),
        flush=True,
    )
    bench.results = {
        "autogroups_enabled": autogroups_enabled(),
        "emulator_alone": {"one": one, "sixteen": sixteen},
        "collector_as_is": as_is,
        "collector_emulators_niced": niced,
        "collector_one_worker": single,
        "profiled_run": prof,
    }
    rate = as_is["rate_all_streaming_per_s"] or as_is["rate_first_to_target_per_s"]
    niced_rate = niced["rate_all_streaming_per_s"] or niced["rate_first_to_target_per_s"]
    cap = round(1e5 / niced["collector_cpu_s_per_100k"])
    limit = (
        f"the collector got {as_is['collector_cpu_share']:g} of a core, the emulators "
        f"{as_is['emulators_cpu_share']:g}"
        + (
            " (16 workers = 16 sessions = 16 scheduler autogroups, CPUs shared per session)"
            if autogroups_enabled()
            else ""
        )
        + f"; with the emulators niced it records {niced_rate:,}/s on {niced['collector_cpu_share']:g} of a core;"
        f" its cost, {niced['collector_cpu_s_per_100k']:g} CPU-s per 100k, is {cap:,} samples/s per core;"
        f" the 16 emulators alone send {sixteen['lines_per_s']:,} lines/s to a client that only counts;"
        f" 2 CPUs shared with other people's work"
    )
    bench.add(
        "samples/s recorded, 16 streams, as is", rate, "samples/s", f">= {GOAL:,}", rate >= GOAL, note=limit
    )
    bench.add("collector CPU per 100k samples, as is", as_is["collector_cpu_s_per_100k"], "s")
    bench.add(
        "collector CPU share, as is",
        as_is["collector_cpu_share"],
        "cores",
        note="autogroups on: CPUs shared per session first" if autogroups_enabled() else "",
    )
    bench.add("emulators' CPU share, as is", as_is["emulators_cpu_share"], "cores")
    bench.add(
        "samples/s recorded, emulators niced (threads + autogroups)",
        niced_rate,
        "samples/s",
        note=f"collector CPU share {niced['collector_cpu_share']:g}, "
        f"emulators {niced['emulators_cpu_share']:g}",
    )
    bench.add("collector CPU per 100k samples, niced", niced["collector_cpu_s_per_100k"], "s")
    bench.add(
        "collector capacity per core (1e5 / CPU per 100k)",
        round(1e5 / niced["collector_cpu_s_per_100k"]),
        "samples/s",
    )
    bench.add(
        "samples/s recorded, 1 worker",
        single["rate_all_streaming_per_s"],
        "samples/s",
        note=f"collector CPU share {single['collector_cpu_share']:g}, "
        f"emulator {single['emulators_cpu_share']:g}",
    )
    bench.add("1 emulator alone, counting client", one["lines_per_s"], "lines/s")
    bench.add("16 emulators alone, counting client", sixteen["lines_per_s"], "lines/s")
    bench.add("event-log build CPU per 100k rows", as_is["frame_build_cpu_s_per_100k"], "s")
    return bench.finish()


if __name__ == "__main__":
    sys.exit(main())
