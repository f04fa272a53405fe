"""Small time-series plots as data for inline SVG (a template draws them; no JavaScript plotting library)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T = 640, 160, 48, 22, 10
MAX_POINTS = 240
MAX_DOTS = 60  # short series also get a dot per point: a single point draws no line
MAX_BAR_W = 36.0


@dataclass(frozen=True)
class Plot:
    """A plot in SVG user units: a polyline (``points``) or bars, and labels for both axes."""

    width: int
    height: int
    points: str
    bars: list[tuple[float, float, float, float]]
    y_max: float
    x_labels: list[tuple[float, str]]
    label: str
    empty: bool = False
    dots: list[tuple[float, float]] = field(default_factory=list)


def _fmt(t: datetime, span: timedelta) -> str:
    return t.strftime("%m-%d %H:%M" if span <= timedelta(days=2) else "%Y-%m-%d")


def _bin(series: list[tuple[datetime, float]], *, cumulative: bool) -> list[tuple[datetime, float]]:
    """At most MAX_POINTS points: neighbours are summed (rates) or the last one kept (running totals)."""
    if len(series) <= MAX_POINTS:
        return series
    step = -(-len(series) // MAX_POINTS)
    out = []
    for k in range(0, len(series), step):
        chunk = series[k : k + step]
        out.append((chunk[-1][0], chunk[-1][1] if cumulative else sum(v for _, v in chunk)))
    return out


def time_plot(
    series: list[tuple[datetime, float]], *, label: str, cumulative: bool = False, bars: bool = False
) -> Plot:
    """A plot of ``series`` (time, value), sorted by time; ``cumulative`` plots running totals."""
    if cumulative:
        total, run = 0.0, []
        for t, v in series:
            total += v
            run.append((t, total))
        series = run
    series = _bin(series, cumulative=cumulative)
    if not series:
        return Plot(WIDTH, HEIGHT, "", [], 0, [], label, empty=True)
    t0, t1 = series[0][0], series[-1][0]
    span = max((t1 - t0).total_seconds(), 1.0)
    y_max = max(v for _, v in series) or 1.0
    inner_w, inner_h = WIDTH - PAD_L - 8, HEIGHT - PAD_B - PAD_T

    def x(t: datetime) -> float:
        return round(PAD_L + inner_w * (t - t0).total_seconds() / span if len(series) > 1 else PAD_L + inner_w / 2, 1)

    def y(v: float) -> float:
        return round(PAD_T + inner_h * (1 - v / y_max), 1)

    points = " ".join(f"{x(t)},{y(v)}" for t, v in series)
    bar_w = min(MAX_BAR_W, max(2.0, inner_w / max(len(series), 1) - 2))
    rects = (
        [(round(x(t) - bar_w / 2, 1), y(v), round(bar_w, 1), round(PAD_T + inner_h - y(v), 1)) for t, v in series]
        if bars
        else []
    )
    ticks = sorted({0, len(series) // 2, len(series) - 1})
    labels = [(x(series[k][0]), _fmt(series[k][0], t1 - t0)) for k in ticks]
    dots = [(x(t), y(v)) for t, v in series] if not bars and len(series) <= MAX_DOTS else []
    return Plot(WIDTH, HEIGHT, "" if bars else points, rects, y_max, labels, label, dots=dots)
