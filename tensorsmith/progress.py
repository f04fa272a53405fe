"""The live progress display of a campaign (rich): tests/s, per-backend status, findings so far."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table


def render(campaign, started: float, tests_at_start: int) -> Table:
    s = campaign.stats
    rate = (s.tests - tests_at_start) / max(1e-9, time.monotonic() - started)
    table = Table(title=f"tensorsmith fuzz -> {campaign.out}", expand=False)
    table.add_column("backend")
    table.add_column("ok", justify="right")
    table.add_column("findings by kind")
    table.add_column("gaps", justify="right")
    table.add_column("restarts", justify="right")
    procs = dict(campaign.procs)
    if campaign.converter is not None:  # a converter path: its targets are "EXPORTER/BACKEND" (per_backend keys)
        procs.update(campaign.converter.procs)
    for name in list(procs) + sorted(set(s.per_backend) - set(procs)):
        c = s.per_backend.get(name, {})
        bad = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("ok", "support_gap"))
        restarts = str(procs[name].restarts) if name in procs else "-"
        table.add_row(name, str(c.get("ok", 0)), bad or "-", str(c.get("support_gap", 0)), restarts)
    table.caption = (
        f"{s.tests} tests ({rate:.2f}/s) | findings {s.findings} | nondeterministic {s.nondeterministic} | "
        f"our reference suspected {s.suspects} | "
        f"reducing {campaign.reducer.backlog if getattr(campaign, 'reducer', None) else 0} | "
        f"no clean inputs {s.no_clean_inputs} | support gaps {len(s.gaps)} | Ctrl-C stops after this test"
    )
    return table


@contextmanager
def live_progress(campaign, *, console: Console | None = None):
    """Refresh the table after every test while the block runs."""
    console = console or Console(stderr=True)
    started, at_start = time.monotonic(), campaign.stats.tests
    with Live(render(campaign, started, at_start), console=console, refresh_per_second=4, transient=False) as live:
        shown = [0.0]

        def update(c) -> None:  # at 80 tests/s, drawing the table after every test would cost a core's tenth
            now = time.monotonic()
            if now - shown[0] >= 0.25:
                shown[0] = now
                live.update(render(c, started, at_start))

        campaign.on_test = update
        yield live
        live.update(render(campaign, started, at_start))
