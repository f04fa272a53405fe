"""The workers' client: retries, the on-disk spool while the server is down, and delivery afterwards."""

from __future__ import annotations

import tempfile
import time

import httpx
import pytest

from server.client import ServerClient, finding_key
from server.wire import HeartbeatIn
from tests.server.conftest import free_port, live_server
from tests.server.factory import TOKEN, finding, make_model, make_npz


def _files() -> dict[str, bytes]:
    return {"model": make_model(), "inputs": make_npz()}


def test_findings_spool_while_the_server_is_down_and_arrive_once_later(settings, tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    client = ServerClient(f"http://127.0.0.1:{port}", TOKEN, spool_dir=tmp_path, retries=1, backoff_s=0.01)
    findings = [finding(f"spooled {k % 2}") for k in range(4)]
    for f in findings:
        assert client.upload_finding(f, _files()) is None
    assert client.heartbeat(HeartbeatIn(campaign_id="c", worker_id="w", tests_total=10)) is None
    assert client.pending() == 5
    with live_server(settings, port=port):
        time.sleep(0.05)  # past the client's back-off
        assert client.flush() == 5 and client.pending() == 0
        assert client.upload_finding(findings[0], _files()).duplicate  # a retry of a delivered one
        late = client.upload_finding(finding("spooled 0"), _files())
        assert late is not None and not late.duplicate
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            buckets = http.get("/api/v1/buckets").json()
    assert buckets["total"] == 2 and sorted(b["count"] for b in buckets["buckets"]) == [2, 3]
    client.close()


def test_rejected_findings_are_kept_apart_with_the_reason(settings, tmp_path) -> None:  # noqa: ANN001
    with live_server(settings) as url, ServerClient(url, TOKEN, spool_dir=tmp_path) as client:
        assert client.upload_finding(finding(), {"model": b"not onnx"}) is None
        assert client.pending() == 0
        (rejected,) = (tmp_path / "rejected").iterdir()
        assert "is not an ONNX ModelProto" in (rejected / "error.txt").read_text()
        assert (rejected / "finding.json").exists() and (rejected / "model").read_bytes() == b"not onnx"


def test_a_wrong_token_keeps_the_finding_for_later(settings, tmp_path) -> None:  # noqa: ANN001
    with live_server(settings) as url, ServerClient(url, "a-wrong-token-123", spool_dir=tmp_path, backoff_s=0) as c:
        assert c.upload_finding(finding(), _files()) is None and c.pending() == 1


def test_transient_errors_are_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503)
        return httpx.Response(200, json={"campaign_id": "c", "worker_id": "w", "tests_added": 1})

    with tempfile.TemporaryDirectory() as spool:
        client = ServerClient(
            "http://server", TOKEN, spool_dir=spool, retries=2, backoff_s=0.001, transport=httpx.MockTransport(handler)
        )
        ack = client.heartbeat(HeartbeatIn(campaign_id="c", worker_id="w", tests_total=1))
    assert ack is not None and ack.tests_added == 1 and len(calls) == 3
    assert calls[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_finding_keys_are_deterministic() -> None:
    assert finding_key("camp", 7, "tvm", "0.18") == finding_key("camp", 7, "tvm", "0.18")
    assert finding_key("camp", 7, "tvm", "0.18") != finding_key("camp", 8, "tvm", "0.18")
    with pytest.raises(ValueError, match="unknown file fields"):
        ServerClient("http://x", TOKEN, spool_dir=tempfile.mkdtemp()).upload_finding(finding(), {"x": b""})
