"""The load test's plot: latency percentiles and throughput over time, as a PNG.

Drawn with matplotlib's Agg backend (no display, no GUI toolkit), from the seconds of
Locust's stats history (`shipyard.domain.loadtest.history_from_csv`). Two panels sharing the
time axis: p50/p95/p99 latency with the p95 and p99 thresholds as dashed lines, then
requests and failures a second with the number of users. The latency axis is
logarithmic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shipyard.domain.loadtest import Moment, Thresholds


def plot_history(moments: Sequence[Moment], limits: Thresholds, path: Path, title: str) -> None:
    """Write the PNG to `path` (its folder exists). An empty history still gets a plot that
    says so: the job summary links the file either way."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: no display is needed or wanted
    import matplotlib.pyplot as plt

    figure, (latency, load) = plt.subplots(2, 1, figsize=(9, 6), sharex=True,
                                           constrained_layout=True)
    try:
        start = moments[0].timestamp if moments else 0.0
        seconds = [m.timestamp - start for m in moments]
        for name, color in (("p50_ms", "tab:green"), ("p95_ms", "tab:orange"),
                            ("p99_ms", "tab:red")):
            values = [getattr(m, name) for m in moments]
            latency.plot(seconds, [v if v else float("nan") for v in values],
                         color=color, marker=".", label=name.replace("_ms", ""))
        latency.axhline(limits.p95_ms, color="tab:orange", linestyle="--", linewidth=1,
                        label=f"p95 limit {limits.p95_ms:g} ms")
        latency.axhline(limits.p99_ms, color="tab:red", linestyle="--", linewidth=1,
                        label=f"p99 limit {limits.p99_ms:g} ms")
        latency.set_yscale("log")  # a 10 ms service and its 500 ms limit both stay readable
        latency.set_ylabel("latency (ms, last 10 s)")
        latency.set_title(title)
        latency.legend(loc="upper left", fontsize="small")
        latency.grid(alpha=0.3)
        load.plot(seconds, [m.rps for m in moments], color="tab:blue", label="requests/s")
        load.plot(seconds, [m.failures_per_s for m in moments], color="tab:red",
                  label="failures/s")
        load.axhline(limits.min_rps, color="tab:blue", linestyle="--", linewidth=1,
                     label=f"min {limits.min_rps:g} requests/s")
        load.set_ylabel("per second")
        load.set_xlabel("seconds since start")
        load.grid(alpha=0.3)
        users = load.twinx()
        users.step(seconds, [m.users for m in moments], color="tab:gray", where="post",
                   label="users")
        users.set_ylabel("users")
        lines = load.get_legend_handles_labels()
        more = users.get_legend_handles_labels()
        load.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left",
                    fontsize="small")
        if not moments:
            latency.text(0.5, 0.5, "no statistics were recorded", ha="center",
                         transform=latency.transAxes)
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
