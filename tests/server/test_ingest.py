"""Uploads through the HTTP API: buckets, idempotency, samples, versions, regressions, merging, heartbeats."""

from __future__ import annotations

from tests.server.factory import csrf_of, finding, heartbeat, sign_in, upload


def bucket(client, bucket_id: int) -> dict:  # noqa: ANN001
    response = client.get(f"/api/v1/buckets/{bucket_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_upload_creates_a_bucket_and_a_retry_is_not_a_second_finding(client) -> None:  # noqa: ANN001
    f = finding("crash in Conv")
    first = upload(client, f)
    assert first.status_code == 201, first.text
    ack = first.json()
    assert ack["new_bucket"] and ack["sampled"] and not ack["duplicate"]
    again = upload(client, f)
    assert again.status_code == 200
    assert again.json()["duplicate"] and again.json()["id"] == ack["id"]
    other = upload(client, finding("crash in Conv"))
    assert other.status_code == 201 and other.json()["bucket_id"] == ack["bucket_id"] and not other.json()["new_bucket"]
    b = bucket(client, ack["bucket_id"])
    assert b["bucket"]["count"] == 2
    assert [(v["backend"], v["version"], v["count"]) for v in b["versions"]] == [("onnxruntime", "1.20.0", 2)]
    assert sum(n for _, n in b["days"]) == 2
    listed = client.get("/api/v1/buckets").json()
    assert listed["total"] == 1


def test_only_a_few_samples_keep_blobs(client) -> None:  # noqa: ANN001
    long_log = "x" * 10_000
    acks = [upload(client, finding("timeout in Loop", error_log=long_log)).json() for _ in range(7)]
    assert [a["sampled"] for a in acks] == [True] * 5 + [False] * 2
    sample, extra = acks[0]["id"], acks[-1]["id"]
    assert client.get(f"/api/v1/findings/{sample}/files/model.onnx").status_code == 200
    assert client.get(f"/api/v1/findings/{sample}/files/repro.py").text.startswith("import onnxruntime")
    assert client.get(f"/api/v1/findings/{extra}/files/model.onnx").status_code == 404
    assert client.get(f"/api/v1/findings/{extra}/files/repro.py").status_code == 404
    meta = client.get(f"/api/v1/findings/{extra}").json()
    assert len(meta["error_log"]) == 2048 and meta["seed"] >= 0 and not meta["is_sample"]
    assert len(client.get(f"/api/v1/findings/{sample}").json()["error_log"]) == 10_000
    assert bucket(client, acks[0]["bucket_id"])["bucket"]["count"] == 7


def test_alternative_titles_route_to_an_existing_bucket(client) -> None:  # noqa: ANN001
    first = upload(client, finding("segfault in MatMul")).json()
    alt = upload(client, finding("segfault in Gemm", alt_titles=["segfault in MatMul"])).json()
    assert alt["bucket_id"] == first["bucket_id"] and not alt["new_bucket"]


def _set_status(client, bucket_id: int, status: str, **fields: str):  # noqa: ANN001, ANN202
    token = csrf_of(client.get(f"/buckets/{bucket_id}").text)
    return client.post(f"/buckets/{bucket_id}/status", data={"status": status, "csrf_token": token, **fields})


def test_a_fixed_bucket_reopens_as_a_regression_on_a_newer_version_only(client) -> None:  # noqa: ANN001
    sign_in(client)
    ack = upload(client, finding("wrong_result in Softmax", backend=("tvm", "0.17.0"))).json()
    upload(client, finding("wrong_result in Softmax", backend=("tvm", "0.18.0")))
    assert _set_status(client, ack["bucket_id"], "fixed").status_code == 303
    assert bucket(client, ack["bucket_id"])["bucket"]["status"] == "fixed"
    old = upload(client, finding("wrong_result in Softmax", backend=("tvm", "0.18.0"))).json()
    assert not old["reopened"]
    assert bucket(client, ack["bucket_id"])["bucket"]["status"] == "fixed"
    new = upload(client, finding("wrong_result in Softmax", backend=("tvm", "0.19.0rc1"))).json()
    assert new["reopened"]
    b = bucket(client, ack["bucket_id"])
    assert b["bucket"]["status"] == "new" and b["bucket"]["regression"]
    assert any(e["action"] == "regression" and "0.19.0rc1" in e["detail"] for e in b["events"])


def test_merge_moves_findings_and_future_titles(client) -> None:  # noqa: ANN001
    sign_in(client)
    a = upload(client, finding("crash in Resize")).json()["bucket_id"]
    b = upload(client, finding("crash in Resize (linear)", backend=("openvino", "2024.1"))).json()["bucket_id"]
    upload(client, finding("crash in Resize (linear)"))
    token = csrf_of(client.get(f"/buckets/{a}").text)
    assert client.post(f"/buckets/{a}/merge", data={"other": str(b), "csrf_token": token}).status_code == 303
    target, source = bucket(client, a), bucket(client, b)
    assert target["bucket"]["count"] == 3 and source["bucket"]["count"] == 0
    assert source["bucket"]["status"] == "duplicate" and source["bucket"]["duplicate_of_id"] == a
    assert {v["backend"] for v in target["versions"]} == {"onnxruntime", "openvino"}
    assert sorted(target["titles"]) == ["crash in Resize", "crash in Resize (linear)"]
    later = upload(client, finding("crash in Resize (linear)")).json()
    assert later["bucket_id"] == a
    assert client.post(f"/buckets/{a}/merge", data={"other": str(a), "csrf_token": token}).status_code == 400
    assert client.post(f"/buckets/{a}/merge", data={"other": "999", "csrf_token": token}).status_code == 404


def test_duplicate_of_sends_new_findings_to_the_original(client) -> None:  # noqa: ANN001
    sign_in(client)
    a = upload(client, finding("exception in Pad")).json()["bucket_id"]
    b = upload(client, finding("exception in Pad (reflect)")).json()["bucket_id"]
    assert _set_status(client, b, "duplicate", duplicate_of=str(a)).status_code == 303
    assert _set_status(client, a, "duplicate", duplicate_of=str(b)).status_code == 400  # a cycle
    assert upload(client, finding("exception in Pad (reflect)")).json()["bucket_id"] == a
    assert _set_status(client, a, "reported", reported_url="javascript:alert(1)").status_code == 400
    assert _set_status(client, a, "reported", reported_url="https://github.com/x/y/issues/1").status_code == 303
    assert bucket(client, a)["bucket"]["reported_url"] == "https://github.com/x/y/issues/1"


def test_heartbeats_are_cumulative_and_replays_add_nothing(client) -> None:  # noqa: ANN001
    assert heartbeat(client, tests_total=100).json()["tests_added"] == 100
    assert heartbeat(client, tests_total=100).json()["tests_added"] == 0
    assert heartbeat(client, tests_total=40).json()["tests_added"] == 0  # reordered: an older total
    assert heartbeat(client, tests_total=250, op_counts={"Relu": 9, "Add": 2}).json()["tests_added"] == 150
    assert heartbeat(client, worker_id="w-2", tests_total=50).json()["tests_added"] == 50
    upload(client, finding("crash in Add"))
    page = client.get("/campaigns/camp-1")
    assert page.status_code == 200
    assert '<b id="alive">2</b> of 2 workers alive' in page.text
    assert "300 tests" in page.text and "1 findings in 1 buckets" in page.text
    assert ">Add<" in page.text and ">Relu<" in page.text
    assert heartbeat(client, tests_total=-1).status_code == 422
