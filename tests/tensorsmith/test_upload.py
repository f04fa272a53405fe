"""A campaign uploads its findings and heartbeats to a real server; a down server loses nothing."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.migrate import upgrade
from tensorsmith.campaign import Campaign, CampaignConfig
from tensorsmith.upload import Uploader
from tests.server.conftest import TOKEN, free_port, live_server, make_settings
from tests.tensorsmith.test_campaign import GEN


def run(out: Path, url: str, tests: int) -> Campaign:
    up = Uploader(url, TOKEN, spool_dir=out / "spool", campaign_id="it", every_s=0)
    cfg = CampaignConfig(backends=("onnxruntime-injected",), out=out, tests=tests, gen=GEN, search_steps=50)
    c = Campaign(cfg, uploader=up)
    c.run()
    return c


def test_findings_reach_the_server_and_survive_an_outage(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(db)
    port = free_port()
    # first the server is down: everything is spooled
    c = run(tmp_path / "c1", f"http://127.0.0.1:{port}", 4)
    assert c.stats.findings >= 1
    spooled = list((tmp_path / "c1" / "spool" / "pending").iterdir())
    assert len(spooled) >= c.stats.findings
    with live_server(make_settings(db), port=port) as url:
        c2 = run(tmp_path / "c1", url, 8)  # resumes, and sends the backlog first
        assert not list((tmp_path / "c1" / "spool" / "pending").iterdir())
        buckets = httpx.get(f"{url}/api/v1/buckets").json()
        total = sum(b["count"] for b in buckets["buckets"])
        assert total == c2.stats.findings, (buckets, c2.stats.findings)
        page = httpx.get(f"{url}/campaigns").text
        assert "it" in page
