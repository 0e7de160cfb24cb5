"""`/v1/webhook-endpoints`: where the organization's events are delivered (admin keys)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response, status

from api_gateway.bodies import BodyRoute
from api_gateway.deps import Admin, DispatchDep, GatewayDep, SessionDep
from api_gateway.responses import errors
from pipeline.fields import MAX_ROW_ID
from pipeline.messages import Task, WebhooksDue
from pipeline.webhooks import endpoints
from pipeline.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    EndpointCreate,
    EndpointList,
    EndpointOut,
    EndpointSecret,
    endpoint_out,
)

router = APIRouter(route_class=BodyRoute, prefix="/v1/webhook-endpoints", tags=["webhooks"])
EndpointIdPath = Path(pattern=r"^ep_[0-9A-Za-z]{26}$", description="The endpoint's id.")


@router.post(
    "",
    response_model=EndpointSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook endpoint; its secret is shown this once",
)
def create_endpoint(
    body: EndpointCreate, gateway: GatewayDep, session: SessionDep, caller: Admin
) -> EndpointOut:
    allow_private = gateway.settings.webhooks.allow_private_urls
    row, secret = endpoints.create(
        session, caller.org_id, body.url, list(body.events), body.description, allow_private
    )
    return endpoint_out(row, secret)


@router.get("", response_model=EndpointList, summary="The organization's webhook endpoints")
def list_endpoints(session: SessionDep, caller: Admin) -> EndpointList:
    rows = endpoints.listing(session, caller.org_id)
    return EndpointList(endpoints=[endpoint_out(row) for row in rows])


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
    summary="Remove a webhook endpoint and its pending deliveries",
)
def delete_endpoint(
    session: SessionDep, caller: Admin, endpoint_id: str = EndpointIdPath
) -> Response:
    endpoints.remove(session, caller.org_id, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    responses=errors(404),
    summary="The endpoint's recent deliveries and their attempts",
)
def list_deliveries(
    session: SessionDep, caller: Admin, endpoint_id: str = EndpointIdPath
) -> DeliveryList:
    endpoints.own(session, caller.org_id, endpoint_id)
    found = endpoints.recent(session, caller.org_id, endpoint_id)
    return DeliveryList(deliveries=[DeliveryOut.model_validate(d) for d in found])


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(404),
    summary="Send one delivery again now",
)
def retry_delivery(
    session: SessionDep,
    dispatcher: DispatchDep,
    caller: Admin,
    delivery_id: int = Path(ge=1, le=MAX_ROW_ID, description="The delivery's number."),
    endpoint_id: str = EndpointIdPath,
) -> Response:
    endpoints.retry(session, caller.org_id, endpoint_id, delivery_id)
    dispatcher.publish(session, Task.WEBHOOKS_DUE, WebhooksDue())
    return Response(status_code=status.HTTP_202_ACCEPTED)
