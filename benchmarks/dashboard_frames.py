"""Benchmark: the dashboard's live frames at the real pace, and what they cost the run.

Runs of 16 workers and 150 samples at the emulator's real 1 s interval, without crashes
(mtbf 0, so that efficiency compares like with like), alternating: one with a dashboard
drawing live frames (``await dash.run()``, as a notebook does), one without (``collect_async``
alone), ``--pairs`` times, all in this process. Figures:

- ``frame_ms_median``: the median cost of a live frame in the rendering thread (building the
  log, the numbers, drawing, PNG encoding), from ``dash.render_seconds``;
- ``frames_per_s``: live frames set on the widget per second of the run (click to result);
- ``efficiency_with`` / ``efficiency_without``: median bound / elapsed of each kind of run.

Goals: median frame <= 50 ms, >= 5 frames/s, efficiency within 0.005 of the runs
without a dashboard. Also measured on the last frame's pixels: what PNG (zlib levels 1 and 6),
JPEG and WebP cost to encode and weigh, which is why frames are PNG at level 1.
Prints ONE JSON object; writes benchmarks/results/dashboard_frames.json; exit 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Bench, load, median, p95  # noqa: E402

import workerlab as wl  # noqa: E402
from workerlab.ui import render  # noqa: E402

WORKERS, SAMPLES, INTERVAL = 16, 150, 1.0
GOAL_FRAME_MS, GOAL_FPS, GOAL_EFFICIENCY_DIFF = 50.0, 5.0, 0.005


async def with_dashboard() -> dict:
    dash = wl.dashboard(workers=WORKERS, samples=SAMPLES, interval=INTERVAL, mtbf=0.0)
    await asyncio.wrap_future(render.warm_up())
    sizes: list[int] = []
    dash.plot.observe(lambda change: sizes.append(len(change["new"])), names="value")
    started = time.monotonic()
    df = await dash.run()
    wall = time.monotonic() - started
    if dash.error or df is None:
        raise RuntimeError(f"the dashboard's run failed: {dash.error}")
    live_ms = [s * 1e3 for s in dash.render_seconds[:-1]]  # the last one is the final frame
    fig = dash.view.figure
    result = {
        "efficiency": float(wl.summary(df).iloc[0]["efficiency"]),
        "elapsed_s": float(wl.summary(df).iloc[0]["elapsed_s"]),
        "wall_s": wall,
        "live_frames": dash.live_redraws,
        "frames_per_s": dash.live_redraws / wall,
        "frame_ms": live_ms,
        "frame_ms_median": median(live_ms),
        "full_draws": fig.full_draws,
        "frames_drawn": fig.frames,
        "frame_kb_median": median(sizes) / 1e3 if sizes else None,
        "render_errors": dash.render_errors,
    }
    encoders = _encoders(fig)
    dash.close()
    return result | {"encoders": encoders}


async def without_dashboard() -> dict:
    df = await wl.collect_async(WORKERS, SAMPLES, interval=INTERVAL, mtbf=0.0, progress=False)
    row = wl.summary(df).iloc[0]
    return {"efficiency": float(row["efficiency"]), "elapsed_s": float(row["elapsed_s"])}


def _encoders(fig) -> dict:
    """Encode the last frame's pixels every way Pillow offers cheaply: ms (median of 7) and kB."""
    from PIL import Image

    width, height = fig.canvas.get_width_height()
    rgb = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert(
        "RGB"
    )
    ways = {
        "png_level_1": {"format": "PNG", "compress_level": 1},
        "png_level_6": {"format": "PNG", "compress_level": 6},
        "jpeg_q85": {"format": "JPEG", "quality": 85},
        "webp_q80": {"format": "WEBP", "quality": 80, "method": 0},
    }
    out = {}
    for name, options in ways.items():
        times, size = [], 0
        for _ in range(7):
            buf = io.BytesIO()
            t0 = time.perf_counter()
            rgb.save(buf, **options)
            times.append((time.perf_counter() - t0) * 1e3)
            size = buf.tell()
        out[name] = {"ms": round(median(times), 2), "kb": round(size / 1e3, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=int, default=3, help="runs with and without a dashboard (default 3 each)"
    )
    args = parser.parse_args()
    bench = Bench(
        "dashboard_frames",
        "Dashboard frames at the real pace (16 workers, 150 samples, 1 s interval)",
        f"{args.pairs} runs with a live dashboard alternating with {args.pairs} without (wl.collect_async), "
        "mtbf 0, in one process; frame cost from dash.render_seconds, frames per second of the run, "
        "efficiency (bound / elapsed) of each kind of run.",
    )
    withs, withouts, loads = [], [], []
    for i in range(args.pairs):
        for kind, fn in (("with", with_dashboard), ("without", without_dashboard)):
            r = asyncio.run(fn())
            loads.append(load()[0])
            (withs if kind == "with" else withouts).append(r)
            extra = (
                f", {r['live_frames']} live frames, median {r['frame_ms_median']:.1f} ms, "
                f"{r['frames_per_s']:.1f} frames/s"
                if kind == "with"
                else ""
            )
            print(
                f"  pair {i + 1} {kind:>7}: efficiency {r['efficiency']:.4f}{extra}",
                file=sys.stderr,
                flush=True,
            )
    frame_ms = [ms for r in withs for ms in r["frame_ms"]]
    eff_with = median([r["efficiency"] for r in withs])
    eff_without = median([r["efficiency"] for r in withouts])
    summary = {
        "frame_ms_median": round(median(frame_ms), 2),
        "frame_ms_p95": round(p95(frame_ms), 2),
        "frames_per_s": round(median([r["frames_per_s"] for r in withs]), 2),
        "efficiency_with": round(eff_with, 4),
        "efficiency_without": round(eff_without, 4),
        "efficiency_diff": round(eff_with - eff_without, 4),
        "live_frames_per_run": [r["live_frames"] for r in withs],
        "full_draws_per_run": [r["full_draws"] for r in withs],
        "frame_kb_median": withs[-1]["frame_kb_median"],
        "encoders": withs[-1]["encoders"],
        "render_errors": sum(len(r["render_errors"]) for r in withs),
        "load_1min": {"before": bench.load_before[0], "during": loads, "after": load()[0]},
        "pairs": args.pairs,
    }
    bench.results = {
        "summary": summary,
        "with": [{**r, "encoders": None} for r in withs],
        "without": withouts,
    }
    bench.add(
        "live frame, median",
        summary["frame_ms_median"],
        "ms",
        f"<= {GOAL_FRAME_MS:g} ms",
        summary["frame_ms_median"] <= GOAL_FRAME_MS,
    )
    bench.add("live frame, p95", summary["frame_ms_p95"], "ms")
    bench.add(
        "live frames per second of run, median",
        summary["frames_per_s"],
        "1/s",
        f">= {GOAL_FPS:g}",
        summary["frames_per_s"] >= GOAL_FPS,
    )
    bench.add("efficiency with the dashboard, median", summary["efficiency_with"], "")
    bench.add("efficiency without, median", summary["efficiency_without"], "")
    bench.add(
        "efficiency with - without",
        summary["efficiency_diff"],
        "",
        f"within ±{GOAL_EFFICIENCY_DIFF:g}",
        abs(summary["efficiency_diff"]) <= GOAL_EFFICIENCY_DIFF,
        note="the dashboard must not slow the run down",
    )
    bench.write()
    print(json.dumps(summary))
    return 0 if bench.ok else 1


if __name__ == "__main__":
    sys.exit(main())
