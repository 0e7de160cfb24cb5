"""Request and response models of the webhook routes (sources, endpoints, deliveries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.fields import Label, Text
from pipeline.status import DeliveryStatus, EventType
from pipeline.webhooks.mapping import FIELDS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "crm",
                    "mapping": {
                        "items": "payload.messages",
                        "user_id": "payload.contact.id",
                        "content": "item.body",
                        "timestamp": "item.sent_at",
                        "id": "item.id",
                    },
                }
            ]
        },
    )

    name: Label = Field(description="How the source is known; unique in the organization.")
    mapping: dict[str, str] | None = Field(
        default=None,
        description=f"JMESPath expressions over {{payload, item}} for: {', '.join(FIELDS)}. "
        "Absent: the body is Persona's own ingest body.",
    )


class SourceOut(BaseModel):
    source_id: str
    name: str
    mapping: dict[str, str] | None
    created_at: datetime
    previous_secret_valid_until: datetime | None = Field(
        default=None, description="After a rotation: until when the old secret verifies."
    )


class SourceSecret(SourceOut):
    secret: str = Field(description="whsec_…, shown this once: sign messages with it.")


class SourceList(BaseModel):
    sources: list[SourceOut]


class EndpointCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"url": "https://agent.example.com/persona-events", "events": ["job.succeeded"]}
            ]
        },
    )

    url: Text = Field(min_length=1, max_length=2000, description="http(s) URL to POST events to.")
    events: list[EventType] = Field(min_length=1, description="The event types to receive.")
    description: Text | None = Field(default=None, max_length=1000)


class EndpointOut(BaseModel):
    endpoint_id: str
    url: str
    events: list[str]
    description: str | None
    created_at: datetime
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None


class EndpointSecret(EndpointOut):
    secret: str = Field(description="whsec_…, shown this once: verify deliveries with it.")


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class Try(BaseModel):
    attempt: int
    status_code: int | None
    latency_ms: float
    error: str | None
    at: datetime


class DeliveryOut(BaseModel):
    delivery_id: int
    event_type: str
    webhook_id: str = Field(description="The same on every attempt: receivers deduplicate on it.")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    tries: list[Try]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


def source_out(row: Any, secret: str | None = None) -> SourceOut:
    fields = {
        "source_id": row.id,
        "name": row.name,
        "mapping": row.mapping,
        "created_at": row.created_at,
        "previous_secret_valid_until": row.previous_until,
    }
    return SourceSecret(**fields, secret=secret) if secret else SourceOut(**fields)


def endpoint_out(row: Any, secret: str | None = None) -> EndpointOut:
    fields = {
        "endpoint_id": row.id,
        "url": row.url,
        "events": row.events,
        "description": row.description,
        "created_at": row.created_at,
        "failing_since": row.failing_since,
        "disabled_at": row.disabled_at,
        "disabled_reason": row.disabled_reason,
    }
    return EndpointSecret(**fields, secret=secret) if secret else EndpointOut(**fields)
