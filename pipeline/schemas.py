"""Request and response models of the wire contract, with the seeds' examples.

These are the shapes agents send and receive; the gateway validates bodies
against them and publishes them in its OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold U+0000; refuse it up front with a clear error."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain the NUL character (U+0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


UserId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul)]
Text = Annotated[str, AfterValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ASH_TRAITS = {
    "name": "Ash Lewis",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "personal_urls": ["https://ash.example.com", "https://fastino.ai"],
    "linkedin_url": "https://www.linkedin.com/in/ashlewis",
    "twitter_handle": "@ash_csx",
    "github_handle": "ash-lewis",
    "notes": "Founder/engineer; prefers concise comms",
}


class RegisterRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "traits": ASH_TRAITS,
                    "purpose": "Used by an AI calendar assistant to manage meetings and timezones",
                }
            ]
        },
    )

    user_id: UserId = Field(description="A unique id for the user.")
    traits: JsonObject | None = Field(
        default=None, description="Name, timezone, URLs, handles, notes...; deep-merged."
    )
    purpose: Text | None = Field(
        default=None, max_length=4000, description="The role of this personalization context."
    )


class RegisterResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "created_at": "2025-10-11T16:05:00Z",
                    "updated_at": "2025-10-11T16:05:00Z",
                    "status": "active",
                }
            ]
        }
    )

    user_id: UserId
    created_at: datetime = Field(description="When the user was first registered.")
    updated_at: datetime = Field(description="When the profile last changed.")
    status: Literal["active", "deleting"]


class EndUserCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user_id": "usr_42af7c", "metadata": {"name": "Ash Lewis"}}]
        },
    )

    user_id: UserId
    metadata: JsonObject | None = Field(
        default=None, description="Stored on creation only; ignored if the user exists."
    )


class EndUserPatch(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"metadata": {"timezone": "Europe/Paris"}}]},
    )

    metadata: JsonObject | None = Field(default=None, description="Deep-merged.")
    purpose: Text | None = Field(default=None, max_length=4000)


class EndUser(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "usr_42af7c",
                    "metadata": {"name": "Ash Lewis"},
                    "purpose": None,
                    "status": "active",
                    "created_at": "2025-10-11T16:05:00Z",
                    "updated_at": "2025-10-11T16:05:00Z",
                }
            ]
        }
    )

    user_id: UserId
    metadata: dict[str, Any]
    purpose: str | None
    status: Literal["active", "deleting"]
    created_at: datetime
    updated_at: datetime


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "INVALID_REQUEST",
                        "message": "Missing required field: user_id",
                        "request_id": "01JAB3Y0K6Q5W7S9V2X4Z8M1NC",
                    }
                }
            ]
        }
    )

    error: ErrorBody
