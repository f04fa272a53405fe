"""docker/k8s: schema-valid Kubernetes objects that are wired together and run unprivileged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

K8S = Path(__file__).resolve().parents[2] / "docker" / "k8s"
IMAGES = {"tensorsmith/server", "tensorsmith/worker", "tensorsmith/postgres"}
SECRET_MOUNT = "/run/secrets/tensorsmith"
KUBERNETES_VERSIONS = ("1.28.0", "1.37.0")  # the oldest version still common in managed clusters, the newest


def load() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


DOCS = load()
WORKLOADS = [d for d in DOCS if d["kind"] in ("Deployment", "StatefulSet")]


def by_name(kind: str, name: str) -> dict:
    (doc,) = [d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert {i["name"] for i in kustomization["images"]} == IMAGES


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schema(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in DOCS:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_expected_objects_exist():
    kinds = {(d["kind"], d["metadata"]["name"]) for d in DOCS}
    assert {("Deployment", "worker"), ("Deployment", "server"), ("StatefulSet", "postgres")} <= kinds
    assert {("Service", "server"), ("Service", "postgres"), ("Namespace", "tensorsmith")} <= kinds
    assert not any(d["kind"] == "Secret" for d in DOCS), "secrets are created with kubectl, never committed"


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda d: d["metadata"]["name"])
def test_workloads_are_unprivileged_bounded_and_probed(workload):
    spec = workload["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    for c in pod["containers"]:
        assert c["image"].split(":")[0] in IMAGES
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert "memory" in c["resources"]["limits"] and c["resources"]["requests"]
        assert "livenessProbe" in c
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        assert set(mounts.values()) <= set(volumes) | claims
        for env in c["env"]:
            assert "value" in env, f"{env['name']}: only plain values; secrets come as files"
            assert not re.search(r"(TOKEN|PASSWORD|SECRET_KEY)$", env["name"]), env["name"]
            if env["name"].endswith("_FILE"):
                assert env["value"].startswith(SECRET_MOUNT + "/")
                secret = volumes[mounts[SECRET_MOUNT]]["secret"]
                keys = [i["key"] for i in secret.get("items", [])] or None
                assert secret["secretName"] == "tensorsmith"
                assert keys is None or Path(env["value"]).name in keys


def test_services_select_pods_and_name_their_ports():
    for svc in (d for d in DOCS if d["kind"] == "Service"):
        selector = svc["spec"]["selector"].items()
        (pod,) = [
            w["spec"]["template"] for w in WORKLOADS if selector <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports


def env(workload: str, name: str) -> str:
    (container,) = by_name("Deployment", workload)["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}[name]


def test_workers_reach_the_server_and_the_server_reaches_postgres():
    server_port = by_name("Service", "server")["spec"]["ports"][0]["port"]
    assert env("worker", "TENSORSMITH_SERVER_URL") == f"http://server:{server_port}"
    pg_port = by_name("Service", "postgres")["spec"]["ports"][0]["port"]
    assert f"@postgres:{pg_port}/" in env("server", "TENSORSMITH_SERVER_DATABASE_URL")


def test_workers_scale_and_stop_gracefully_while_the_server_stays_single():
    worker = by_name("Deployment", "worker")
    assert worker["spec"]["replicas"] >= 2
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 120
    server = by_name("Deployment", "server")
    assert server["spec"]["replicas"] == 1 and server["spec"]["strategy"]["type"] == "Recreate"
