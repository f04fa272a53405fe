"""Test data for the server: small ONNX models, .npz files and findings, built without the fuzzer."""

from __future__ import annotations

import io
import itertools

import numpy as np
import onnx
from onnx import TensorProto, helper

from server.wire import Backend, FindingIn, Kind, Stage

TOKEN = "worker-token-for-tests-0123456789"
PASSWORD = "admin-password-for-tests"
SECRET = "session-secret-for-tests-0123456789"
_counter = itertools.count()


def make_model(ops: tuple[str, ...] = ("Relu", "Neg"), *, input_name: str = "x", node_name: str = "") -> bytes:
    """A chain of unary ops on a float tensor (a valid model with a graph and outputs)."""
    names = [input_name] + [f"t{k}" for k in range(len(ops) - 1)] + ["y"]
    nodes = [helper.make_node(op, [names[k]], [names[k + 1]], name=node_name or f"n{k}") for k, op in enumerate(ops)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    return model.SerializeToString()


def make_npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **(arrays or {"x": np.ones((2, 3), np.float32)}))
    return buf.getvalue()


def finding(title: str = "wrong_result in Relu", **overrides: object) -> FindingIn:
    n = next(_counter)
    values: dict[str, object] = dict(
        finding_id=f"finding-{n:06d}-{np.random.default_rng().integers(1 << 40):x}",
        campaign_id="camp-1",
        worker_id="w-1",
        seed=n,
        tensorsmith_version="0.1.0",
        backend=Backend(name="onnxruntime", version="1.20.0", config={"opt_level": 99}),
        kind=Kind.wrong_result,
        stage=Stage.run,
        title=title,
        error_log="Traceback (most recent call last):\n  boom",
        diffs=[{"output": "y", "max_abs_error": 0.5, "max_rel_error": 1.0, "mismatched": 3, "total": 6}],
        meta={"opset": 21},
        repro_py="import onnxruntime\nprint('repro')\n",
    )
    if isinstance(overrides.get("backend"), tuple):
        name, version = overrides.pop("backend")  # type: ignore[misc]
        values["backend"] = Backend(name=name, version=version)
    values.update(overrides)
    return FindingIn.model_validate(values)


def files(model: bytes | None = None, *, with_outputs: bool = True) -> dict[str, tuple[str, bytes, str]]:
    out = {"model": ("model.onnx", model or make_model(), "application/octet-stream")}
    out["inputs"] = ("inputs.npz", make_npz(), "application/octet-stream")
    if with_outputs:
        out["outputs"] = ("outputs.npz", make_npz(y=np.zeros((2, 3), np.float32)), "application/octet-stream")
    return out


def upload(http, f: FindingIn, *, model: bytes | None = None, token: str = TOKEN):  # noqa: ANN001, ANN201
    """POST one finding through ``http`` (a TestClient or an httpx.Client)."""
    return http.post(
        "/api/v1/findings",
        data={"finding": f.model_dump_json()},
        files=files(model),
        headers={"Authorization": f"Bearer {token}"},
    )


def heartbeat(http, **values: object):  # noqa: ANN001, ANN201
    body = dict(campaign_id="camp-1", worker_id="w-1", tests_total=100, op_counts={"Relu": 3}) | values
    return http.post("/api/v1/heartbeats", json=body, headers={"Authorization": f"Bearer {TOKEN}"})


def sign_in(http) -> str:  # noqa: ANN001
    """Sign in as the admin through the login form; return the session's CSRF token."""
    page = http.get("/login")
    token = csrf_of(page.text)
    response = http.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/buckets"}
    )
    assert response.status_code in (200, 303), response.text
    return csrf_of(http.get("/buckets").text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


assert onnx  # the models above are built with onnx.helper
