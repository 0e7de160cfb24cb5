"""`GET /metrics`: Prometheus metrics of the whole system, for an operator's key.

The gateway's own request metrics come from `prometheus-fastapi-instrumentator` (by
route template, method and status, with a latency histogram), never from paths, which
hold user ids. Where PROMETHEUS_MULTIPROC_DIR is set (`persona run` sets it for all its
processes), every process writes its metrics there and a scrape here adds them up: the
gateway's processes as one, the worker's tasks, the model's batches and the index's
latency (`pipeline.metrics`, `workers.metrics`). Without it, a scrape serves this
process's own. The state of the system, read at scrape time
(`pipeline.system_state`), comes with either.

Metrics name no user, but they do describe the deployment, so the route asks for a key
with the operator scope, which a Prometheus scrape job sends as a bearer token.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as instrumentator_metrics

from api_gateway.deps import GatewayDep, Operator
from pipeline.system_state import SystemState

router = APIRouter(tags=["operations"])
PATH = "/metrics"


def instrument(app: FastAPI) -> None:
    """Count and time every request by route template, method and exact status: those two
    metrics alone (the instrumentator's default adds three more, sizes and a label-less
    histogram, each one more write per request)."""
    Instrumentator(
        should_group_status_codes=False,
        excluded_handlers=[PATH],
        should_instrument_requests_inprogress=False,
    ).add(
        instrumentator_metrics.requests(),
        instrumentator_metrics.latency(should_include_status=False),
    ).instrument(app)


@router.get(PATH, include_in_schema=False)
def metrics(gateway: GatewayDep, _: Operator) -> Response:
    """Every process's metrics and the system's state, in Prometheus' text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    state = CollectorRegistry()
    state.register(SystemState(gateway.engine, gateway.redis))
    body = generate_latest(processes) + generate_latest(state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
