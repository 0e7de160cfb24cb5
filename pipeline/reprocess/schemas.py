"""Request and response models of the reprocessing routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline import models
from pipeline.fields import Label, RowId, UserId
from pipeline.schemas import Strict

ModelName = Literal["minilm", "mpnet"]
assert set(ModelName.__args__) == set(models.MODELS), "the wire lists every model"  # type: ignore[attr-defined]

LexicalName = Literal["bm25", "postgres"]
assert set(LexicalName.__args__) == set(models.LEXICAL), "the wire lists every matcher"  # type: ignore[attr-defined]

OrgRef = RowId | Label
ORG_DESCRIPTION = (
    "An organization, by id or name; unset: the caller's own (with `user_id`), or "
    "everything (without). Another organization, or everything, needs the `operator` scope."
)


class ReindexRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"user_id": "usr_42af7c"}, {"model": "mpnet"}, {"lexical": "bm25"}]
        },
    )

    model: ModelName | None = Field(
        default=None,
        description="Build a new generation with this model (the whole index; `operator`). "
        "Unset: the active generation's model.",
    )
    lexical: LexicalName | None = Field(
        default=None,
        description="Build a new generation that matches words this way (the whole index; "
        "`operator`): `bm25`, terms stored in each point and searched with its vector in one "
        "call to the index; `postgres`, BM25 over the chunk rows. Unset: the active "
        "generation's.",
    )
    org_id: OrgRef | None = Field(default=None, description=ORG_DESCRIPTION)
    user_id: UserId | None = Field(
        default=None, description="Re-embed this user's items in place, in the active generation."
    )

    @model_validator(mode="after")
    def _generation_is_for_everything(self) -> Self:
        whole = self.model is not None or self.lexical is not None
        if whole and (self.org_id is not None or self.user_id is not None):
            raise ValueError(
                "a model or lexical matcher applies to the whole index: leave out org_id and "
                "user_id to switch them"
            )
        return self


class VerifyRequest(Strict):
    org_id: OrgRef | None = Field(default=None, description=ORG_DESCRIPTION)
    user_id: UserId | None = None


class RebuildRequest(Strict):
    purpose: Label | None = Field(default=None, description="Only this purpose's summaries.")
    org_id: OrgRef | None = Field(default=None, description=ORG_DESCRIPTION)
    user_id: UserId | None = None


class ReprocessAccepted(BaseModel):
    job_id: str = Field(description="Poll GET /jobs/{job_id} for progress.")
    generation: int | None = Field(
        default=None, description="The generation the job builds, or works on."
    )


class GenerationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    model: str
    dim: int
    build: str
    chunking: dict[str, Any]
    lexical: str
    collection: str
    state: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    drop_after: datetime | None
    dropped_at: datetime | None


class GenerationList(BaseModel):
    generations: list[GenerationOut]
