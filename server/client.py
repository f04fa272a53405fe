"""The workers' client: uploads findings and heartbeats, and spools them to disk while the server is unreachable.

Nothing is lost: an item that cannot be sent (connection error, time-out, 5xx, 429, or a token the server
refuses) is written to ``spool_dir/pending`` atomically (a temporary name, then ``os.replace``) and sent by
a later call, oldest first. Uploads are idempotent on the server, so sending an item twice (a reply lost
after the server committed) is harmless. Items the server rejects as malformed (413, 422) move to
``spool_dir/rejected`` with the server's answer, for a human to read. Imports only ``server.wire``, httpx
and the standard library.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.wire import FILE_FIELDS, FINDINGS_PATH, HEARTBEATS_PATH, FindingAck, FindingIn, HeartbeatAck, HeartbeatIn

log = logging.getLogger("tensorsmith.client")

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
KEEP_STATUS = {401, 403}  # a wrong token is a configuration error: keep the item until it is fixed


def finding_key(*parts: object) -> str:
    """A deterministic idempotency key from what identifies a finding (e.g. campaign, seed, backend, version)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Outcome:
    ack: dict | None = None
    keep: bool = False  # worth trying again later
    error: str = ""


class ServerClient:
    """Sends findings and heartbeats to one server; see the module docstring for the delivery guarantee.

    After a failed send the client stops trying the network for ``backoff_s`` (doubling up to
    ``max_backoff_s``) and spools at once, so a down server costs a worker no time.
    """

    FLUSH_PER_CALL = 50  # spooled items sent before each new upload: a backlog drains without stalling a worker

    def __init__(
        self,
        url: str,
        token: str,
        *,
        spool_dir: str | Path,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._spool = Path(spool_dir)
        for sub in ("pending", "rejected", "tmp"):
            (self._spool / sub).mkdir(parents=True, exist_ok=True)
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._down_until = 0.0
        self._delay = backoff_s
        self._seq = 0

    # -- public ---------------------------------------------------------------------------------------------

    def upload_finding(self, finding: FindingIn, files: dict[str, bytes]) -> FindingAck | None:
        """Send a finding (``files``: model, inputs, outputs, original_model); ``None`` if it was spooled."""
        unknown = set(files) - set(FILE_FIELDS)
        if unknown:
            raise ValueError(f"unknown file fields {sorted(unknown)}; valid: {', '.join(FILE_FIELDS)}")
        self.flush(limit=self.FLUSH_PER_CALL)
        body = finding.model_dump_json()
        outcome = self._send_finding(body, files) if self._up() else _Outcome(keep=True, error="server marked down")
        if outcome.ack is not None:
            return FindingAck.model_validate(outcome.ack)
        self._spool_finding(finding.finding_id, body, files, rejected=not outcome.keep, error=outcome.error)
        return None

    def heartbeat(self, hb: HeartbeatIn) -> HeartbeatAck | None:
        """Send a heartbeat; ``None`` if it was spooled."""
        self.flush(limit=self.FLUSH_PER_CALL)
        body = hb.model_dump_json()
        outcome = self._send_heartbeat(body) if self._up() else _Outcome(keep=True, error="server marked down")
        if outcome.ack is not None:
            return HeartbeatAck.model_validate(outcome.ack)
        self._spool_heartbeat(body, rejected=not outcome.keep, error=outcome.error)
        return None

    def flush(self, *, limit: int | None = None) -> int:
        """Send spooled items, oldest first, until one fails; return how many were delivered (or rejected)."""
        done = 0
        for item in sorted((self._spool / "pending").iterdir()):
            if not self._up() or (limit is not None and done >= limit):
                break
            outcome = self._send_spooled(item)
            if outcome.ack is None and outcome.keep:
                break
            if outcome.ack is None:
                self._reject(item, outcome.error)
            else:
                _remove(item)
            done += 1
        return done

    def pending(self) -> int:
        """How many items wait in the spool."""
        return sum(1 for _ in (self._spool / "pending").iterdir())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- sending --------------------------------------------------------------------------------------------

    def _up(self) -> bool:
        return time.monotonic() >= self._down_until

    def _post(self, path: str, **kwargs: object) -> _Outcome:
        error = ""
        for attempt in range(self._retries + 1):
            try:
                response = self._http.post(path, **kwargs)
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    self._delay = self._backoff_s
                    return _Outcome(ack=response.json())
                error = f"HTTP {response.status_code}: {response.text[:500]}"
                if response.status_code in KEEP_STATUS:
                    log.error("server refused the worker token (%s); spooling", error)
                    break
                if response.status_code not in RETRY_STATUS:
                    return _Outcome(error=error)
            if attempt < self._retries:
                time.sleep(min(self._backoff_s * 2**attempt, self._max_backoff_s) / 4)
        self._down_until = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, self._max_backoff_s)
        log.warning("server unreachable (%s); spooling to %s", error, self._spool)
        return _Outcome(keep=True, error=error)

    def _send_finding(self, body: str, files: dict[str, bytes]) -> _Outcome:
        parts = {name: (name, data, "application/octet-stream") for name, data in files.items()}
        return self._post(FINDINGS_PATH, data={"finding": body}, files=parts)

    def _send_heartbeat(self, body: str) -> _Outcome:
        return self._post(HEARTBEATS_PATH, content=body, headers={"Content-Type": "application/json"})

    def _send_spooled(self, item: Path) -> _Outcome:
        if item.is_dir():
            files = {name: (item / name).read_bytes() for name in FILE_FIELDS if (item / name).exists()}
            return self._send_finding((item / "finding.json").read_text(), files)
        return self._send_heartbeat(item.read_text())

    # -- spool ----------------------------------------------------------------------------------------------

    def _name(self, kind: str, key: str) -> str:
        self._seq += 1
        return f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}-{kind}-{key}"

    def _spool_finding(self, key: str, body: str, files: dict[str, bytes], *, rejected: bool, error: str) -> None:
        tmp = self._spool / "tmp" / self._name("finding", key)
        tmp.mkdir()
        for name, data in files.items():
            _write_synced(tmp / name, data)
        _write_synced(tmp / "finding.json", body.encode())
        target = self._spool / ("rejected" if rejected else "pending") / tmp.name
        os.replace(tmp, target)
        if rejected:
            (target / "error.txt").write_text(error)
            log.error("server rejected finding %s: %s (kept in %s)", key, error, target)

    def _spool_heartbeat(self, body: str, *, rejected: bool, error: str) -> None:
        tmp = self._spool / "tmp" / (self._name("heartbeat", "hb") + ".json")
        _write_synced(tmp, body.encode())
        target = self._spool / ("rejected" if rejected else "pending") / tmp.name
        os.replace(tmp, target)
        if rejected:
            log.error("server rejected a heartbeat: %s", error)

    def _reject(self, item: Path, error: str) -> None:
        target = self._spool / "rejected" / item.name
        os.replace(item, target)
        if target.is_dir():
            (target / "error.txt").write_text(error)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _remove(item: Path) -> None:
    if item.is_dir():
        for child in item.iterdir():
            child.unlink()
        item.rmdir()
    else:
        item.unlink()


def new_worker_id() -> str:
    """A fresh worker id per worker start (heartbeat totals restart from zero with a new process)."""
    return uuid.uuid4().hex[:16]


__all__ = ["ServerClient", "finding_key", "new_worker_id"]
