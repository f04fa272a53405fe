"""Send a campaign's findings and heartbeats to a tensorsmith server (spooling while it is down)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path

from server.client import ServerClient
from server.wire import Backend, FindingIn, HeartbeatIn, OutputDiff

KIND_MAP = {"oom": "crash", "missing_output": "wrong_shape"}


class Uploader:
    """One worker's connection to the server: a finding per call, a heartbeat every `every_s` seconds."""

    def __init__(self, url: str, token: str, *, spool_dir: Path, campaign_id: str, every_s: float = 10.0):
        self.client = ServerClient(url, token, spool_dir=spool_dir)
        self.campaign_id = campaign_id
        self.worker_id = _worker_id(spool_dir)
        self.every_s = every_s
        self._last = 0.0

    def finding(self, folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        detail = meta.get("detail") or {}
        diffs = []
        if meta.get("output"):
            diffs.append(
                OutputDiff(
                    output=meta["output"],
                    max_abs_error=detail.get("max_abs_err"),
                    mismatched=detail.get("mismatched"),
                    total=detail.get("size"),
                    expected_shape=detail.get("expected") if isinstance(detail.get("expected"), list) else None,
                    actual_shape=detail.get("got") if isinstance(detail.get("got"), list) else None,
                )
            )
        finding = FindingIn(
            finding_id=folder.name[-64:] if len(folder.name) >= 8 else f"finding-{folder.name}",
            campaign_id=self.campaign_id,
            worker_id=self.worker_id,
            seed=meta["seed"],
            tensorsmith_version=meta["tensorsmith_version"],
            backend=Backend(
                name=meta["backend_kind"],
                version=meta["backend_version"] or "?",
                config=meta.get("backend_options") or {},
            ),
            kind=KIND_MAP.get(meta["kind"], meta["kind"]),
            stage=meta["stage"] or "run",
            title=meta["title"],
            alt_titles=meta.get("alt_titles", [])[:8],
            error_log=(meta.get("error_log") or meta.get("message") or "")[-60000:],
            op_types=meta.get("op_types", []),
            diffs=diffs,
            meta={k: meta[k] for k in ("test_index", "blame", "ops", "outputs", "noise") if k in meta},
            repro_py=(folder / "repro.py").read_text() if (folder / "repro.py").exists() else "",
        )
        files = {
            name: (folder / f"{name}.{ext}").read_bytes()
            for name, ext in (("model", "onnx"), ("inputs", "npz"), ("outputs", "npz"))
            if (folder / f"{name}.{ext}").exists()
        }
        if "outputs" not in files and (folder / "actual.npz").exists():
            files["outputs"] = (folder / "actual.npz").read_bytes()
        if (folder / "original" / "model.onnx").exists():
            files["original_model"] = (folder / "original" / "model.onnx").read_bytes()
        self.client.upload_finding(finding, files)

    def heartbeat(self, campaign, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        s = campaign.stats
        self.client.heartbeat(
            HeartbeatIn(
                campaign_id=self.campaign_id,
                worker_id=self.worker_id,
                tensorsmith_version=__import__("tensorsmith").__version__,
                backends=list(campaign.cfg.backends),
                tests_total=s.tests,
                findings_total=s.findings,
                op_counts=dict(s.op_counts),
            )
        )

    def close(self) -> None:
        self.client.flush()
        self.client.close()


def _worker_id(spool_dir: Path) -> str:
    """A stable id per campaign directory: TENSORSMITH_WORKER_ID, or made once and kept beside the spool.

    Host names alone are not unique (containers on the host network share one).
    """
    if os.environ.get("TENSORSMITH_WORKER_ID"):
        return os.environ["TENSORSMITH_WORKER_ID"][:128]
    path = spool_dir.parent / "worker_id"
    if not path.exists():
        spool_dir.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{socket.gethostname()[:40]}-{secrets.token_hex(4)}\n")
    return path.read_text().strip()
