"""The dashboard's pages: filters, sorting, the bucket page, and escaping of everything a worker sends."""

from __future__ import annotations

from server.wire import Backend
from tests.server.factory import finding, heartbeat, make_model, sign_in, upload

XSS = "<script>alert('x')</script>"


def test_worker_text_is_escaped_everywhere(client) -> None:  # noqa: ANN001
    f = finding(
        f"crash in Relu {XSS}",
        error_log=f"log {XSS}",
        campaign_id=f"camp{XSS}"[:128],
        worker_id=f"w{XSS}",
        backend=Backend(name=f"ort{XSS}", version="1<b>", config={"k": XSS}),
        diffs=[{"output": f"y{XSS}", "note": XSS}],
        meta={"m": XSS},
        op_types=[f"Relu{XSS}"],
    )
    model = make_model(("Relu",), input_name=f"x{XSS}", node_name=f"n{XSS}")
    ack = upload(client, f, model=model).json()
    heartbeat(client, campaign_id=f.campaign_id, worker_id=f.worker_id, op_counts={f"Op{XSS}": 1})
    sign_in(client)
    pages = [
        client.get("/buckets"),
        client.get(f"/buckets/{ack['bucket_id']}"),
        client.get("/campaigns"),
        client.get(f"/campaigns/{f.campaign_id}"),
        client.get("/buckets", params={"q": XSS}),
        client.get("/buckets/999999", headers={"Accept": "text/html"}),
    ]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        assert "<script>alert" not in page.text, page.url
        assert "script-src" not in page.text  # sanity: the CSP is a header, not markup
        assert "default-src 'self'" in page.headers["content-security-policy"]
    bucket_page = pages[1].text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in bucket_page
    assert bucket_page.count("&lt;script&gt;") >= 5  # title, log, backend, worker, graph input name, diff
    assert pages[-1].status_code == 404


def test_filters_sort_search_and_pages(client) -> None:  # noqa: ANN001
    upload(client, finding("crash in Conv", backend=("tvm", "0.18.0"), op_types=["Conv", "Relu"]))
    for _ in range(3):
        upload(client, finding("wrong_result in Softmax", backend=("onnxruntime", "1.20.0"), op_types=["Softmax"]))
    upload(client, finding("timeout in Loop", kind="timeout", backend=("openvino", "2024.1"), op_types=["Loop"]))

    def titles(**params: str) -> list[str]:
        page = client.get("/api/v1/buckets", params=params).json()
        return [b["title"] for b in page["buckets"]]

    assert titles(backend="tvm") == ["crash in Conv"]
    assert titles(version="1.20.0") == ["wrong_result in Softmax"]
    assert titles(kind="timeout") == ["timeout in Loop"]
    assert titles(op="Relu") == ["crash in Conv"]
    assert titles(q="SOFTMAX") == ["wrong_result in Softmax"]
    assert titles(q="%") == []  # LIKE wildcards are searched literally
    assert titles(sort="-count")[0] == "wrong_result in Softmax"
    assert titles(sort="title") == ["crash in Conv", "timeout in Loop", "wrong_result in Softmax"]
    assert titles(status="new", backend="openvino") == ["timeout in Loop"]
    assert client.get("/api/v1/buckets", params={"sort": "bogus"}).status_code == 422

    html = client.get("/buckets", params={"backend": "tvm", "sort": "-count"}).text
    assert "crash in Conv" in html and "wrong_result in Softmax" not in html
    assert '<option value="tvm" selected>' in html
    html = client.get("/buckets", params={"op": "Softmax"}).text
    assert "wrong_result in Softmax" in html and "crash in Conv" not in html


def test_pagination(client, settings) -> None:  # noqa: ANN001
    for k in range(settings.page_size + 3):
        upload(client, finding(f"exception {k:03d}"))
    first = client.get("/buckets", params={"sort": "title"}).text
    assert "page 1 of 2" in first and "exception 000" in first and "exception 052" not in first
    second = client.get("/buckets", params={"sort": "title", "page": "2"}).text
    assert "exception 052" in second and 'rel="prev"' in second


def test_bucket_page_shows_graph_plot_versions_diffs_and_downloads(client) -> None:  # noqa: ANN001
    ack = upload(client, finding("wrong_result in Add"), model=make_model(("Relu", "Neg", "Abs"))).json()
    upload(client, finding("wrong_result in Add", backend=("onnxruntime", "1.21.0")))
    html = client.get(f"/buckets/{ack['bucket_id']}").text
    assert '<svg class="graph"' in html and ">Neg</text>" in html and ">Abs</text>" in html
    assert 'class="bar"' in html  # findings per day
    assert ">1.20.0<" in html and ">1.21.0<" in html
    assert "<code>y</code>" in html and ">0.5<" in html  # what differs
    assert f"/findings/{ack['id']}/repro.py" in html and f"/findings/{ack['id']}/model.onnx" in html
    download = client.get(f"/findings/{ack['id']}/repro.py")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert client.get(f"/findings/{ack['id']}/passwd").status_code == 404
    assert client.get("/openapi.json").json()["paths"]["/api/v1/findings"]["post"]


def test_campaigns_page_lists_workers_and_rates(client) -> None:  # noqa: ANN001
    heartbeat(client, tests_total=600)
    html = client.get("/campaigns").text
    assert '<a href="/campaigns/camp-1">camp-1</a>' in html and "1 / 1" in html and "2.0" in html
