"""Malformed and oversized uploads get a clear 4xx; writes need the worker token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.main import create_app
from tests.server.conftest import make_settings
from tests.server.factory import TOKEN, files, finding, make_model, upload

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sqlite_client(sqlite_url: str):  # noqa: ANN201 - limits do not depend on the database: SQLite only
    with TestClient(create_app(make_settings(sqlite_url, max_upload_bytes=64 * 1024))) as http:
        yield http


def test_writes_need_the_worker_token(sqlite_client: TestClient) -> None:
    f = finding()
    assert upload(sqlite_client, f, token="wrong-token-0123456789").status_code == 401
    response = sqlite_client.post("/api/v1/findings", data={"finding": f.model_dump_json()}, files=files())
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert sqlite_client.post("/api/v1/heartbeats", json={}).status_code == 401


def test_a_body_over_the_cap_is_413(sqlite_client: TestClient) -> None:
    big = make_model() + b"\0" * (70 * 1024)
    response = upload(sqlite_client, finding(), model=big)
    assert response.status_code == 413 and "larger than 65536 bytes" in response.json()["detail"]

    def chunks():  # noqa: ANN202 - no Content-Length: the cap applies while streaming
        for _ in range(100):
            yield b"x" * 1024

    response = sqlite_client.post("/api/v1/heartbeats", content=chunks(), headers=AUTH)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("model", b"\x08\x07garbage that is not protobuf \xff\xff", "is not an ONNX ModelProto"),
        ("model", b"", "is empty"),
        ("model", b"\x08\x07", "has no graph"),
        ("inputs", b"PK not really", "is not an .npz archive"),
        ("original_model", b"\xff\xff\xff", "is not an ONNX ModelProto"),
    ],
)
def test_bad_files_are_422_with_the_reason(sqlite_client: TestClient, field: str, data: bytes, message: str) -> None:
    parts = files() | {field: (field, data, "application/octet-stream")}
    response = sqlite_client.post(
        "/api/v1/findings", data={"finding": finding().model_dump_json()}, files=parts, headers=AUTH
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"] and field in response.json()["detail"]


@pytest.mark.parametrize(
    ("finding_json", "where"),
    [
        ("{not json", "finding"),
        ('{"finding_id": "short"}', "finding_id"),
        (finding().model_dump_json().replace('"wrong_result"', '"melted"'), "kind"),
        (finding(title="t").model_dump_json().replace('"t"', '"' + "x" * 600 + '"'), "title"),
    ],
)
def test_malformed_findings_are_422_naming_the_field(sqlite_client: TestClient, finding_json: str, where: str) -> None:
    response = sqlite_client.post("/api/v1/findings", data={"finding": finding_json}, files=files(), headers=AUTH)
    assert response.status_code == 422, response.text
    assert any(where in map(str, e["loc"]) for e in response.json()["detail"])


def test_a_model_is_required(sqlite_client: TestClient) -> None:
    response = sqlite_client.post("/api/v1/findings", data={"finding": finding().model_dump_json()}, headers=AUTH)
    assert response.status_code == 422
