"""Index generations: which derived index every read uses, and how another replaces it.

Everything derived from the items (chunk rows, points, the lexical vectors) belongs
to one generation: the model and chunking it was built with, how it matches words
(`models.LexicalSpec`: terms in the points, or BM25 over the rows in PostgreSQL), and
its own vector collection. Exactly one generation is `active`; every read and every live write use
it. It is a row in PostgreSQL, so every process agrees on it, and a read learns it in
the same query that finds its user (`retrieval.search`).

A reindex builds another generation beside it (`building`, at most one at a time)
and switches: in one transaction the new one becomes active and the old one
`retired`, kept for `reindex.keep_old_s` and then dropped (its collection deleted,
its rows removed).

The switch and live writes are ordered by one advisory lock (`SWITCH_LOCK`): each
live write holds it shared for its transaction, and checks there that the
generation it embedded for is still the active one; the switch, and the reindex's
look at how far live writing has got (`caught_up_to`), hold it exclusively. So a
write either lands before the switch (and the reindex catches it up into the new
generation) or after it (into the new generation itself): none is lost between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, ScalarSelect, Select, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pipeline import models
from pipeline.db.models import Generation as GenerationRow
from pipeline.errors import Conflict
from pipeline.models import LexicalSpec, ModelSpec
from pipeline.status import GenerationState

SWITCH_LOCK = 0x7E4A_0001
"""Advisory lock key: live writes hold it shared, the switch and snapshots exclusively."""

FIRST_COLLECTION = "chunks"
"""The collection of an install's first generation (and of every install before generations)."""


@dataclass(frozen=True)
class Generation:
    id: int
    model: ModelSpec
    collection: str
    state: GenerationState
    lexical: LexicalSpec

    @classmethod
    def of(cls, row: Any) -> Generation:
        """From a `generations` row, or any row with its id, model, collection, state and
        lexical matcher."""
        return cls(
            row.id,
            models.spec(row.model),
            row.collection,
            GenerationState(row.state),
            models.lexical(row.lexical),
        )


_COLUMNS = (
    GenerationRow.id,
    GenerationRow.model,
    GenerationRow.collection,
    GenerationRow.state,
    GenerationRow.lexical,
)


def _one(session: Session | Connection, state: GenerationState) -> Generation | None:
    row = session.execute(select(*_COLUMNS).where(GenerationRow.state == state)).one_or_none()
    return Generation.of(row) if row is not None else None


def active(session: Session | Connection) -> Generation | None:
    """The generation every read uses; None before the first write made one."""
    return _one(session, GenerationState.ACTIVE)


def active_beside_statement(value: ScalarSelect[Any]) -> Select[Any]:
    """A statement for the active generation and `value` (a scalar subquery with bound
    parameters: a read's user) in one round trip; built once by its caller, since
    building it costs more CPU than running it (`active_beside`)."""
    return select(*_COLUMNS, value.label("beside")).where(
        GenerationRow.state == GenerationState.ACTIVE
    )


def active_beside(
    connection: Session | Connection, statement: Select[Any], **params: Any
) -> tuple[Generation, Any] | None:
    """The active generation and the value `statement` (`active_beside_statement`) reads
    beside it; None before the first write made a generation."""
    row = connection.execute(statement, params).one_or_none()
    return (Generation.of(row), row.beside) if row is not None else None


def building(session: Session) -> Generation | None:
    """The generation a reindex is building, if one is."""
    return _one(session, GenerationState.BUILDING)


def ensure_active(
    session: Session, model: ModelSpec, build: str, lexical: LexicalSpec
) -> Generation:
    """The active generation, made from `model` and `lexical` if there is none yet (a new
    install's first write); safe when several processes race to make it."""
    found = active(session)
    if found is not None:
        return found
    session.execute(
        insert(GenerationRow)
        .values(
            model=model.name,
            dim=model.dim,
            build=build,
            chunking=chunking(model),
            lexical=lexical.name,
            collection=FIRST_COLLECTION,
            state=GenerationState.ACTIVE,
            activated_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
    )
    made = active(session)
    assert made is not None, "an active generation exists once one was inserted"
    return made


def chunking(model: ModelSpec) -> dict[str, Any]:
    """What a generation records of how its chunks were cut."""
    return {"max_tokens": model.max_tokens, "tokenizer": model.hub_id}


def begin(session: Session, model: ModelSpec, lexical: LexicalSpec, build: str = "") -> Generation:
    """A new generation to build from `model` and `lexical`; CONFLICT while another is
    being built."""
    number = session.execute(
        text("SELECT nextval(pg_get_serial_sequence('generations', 'id'))")
    ).scalar_one()
    row = session.execute(
        insert(GenerationRow)
        .values(
            id=number,
            model=model.name,
            dim=model.dim,
            build=build,
            chunking=chunking(model),
            lexical=lexical.name,
            collection=f"chunks_g{number}",
            state=GenerationState.BUILDING,
        )
        .on_conflict_do_nothing()
        .returning(GenerationRow)
    ).scalar_one_or_none()
    if row is None:
        raise Conflict("A reindex is already building a new generation; wait for it to finish")
    return Generation.of(row)


def record_build(session: Session, generation_id: int, build: str) -> None:
    """Which build of its model the generation is being built with (the worker knows)."""
    session.execute(
        update(GenerationRow).where(GenerationRow.id == generation_id).values(build=build)
    )


def get(session: Session, generation_id: int) -> Generation:
    return Generation.of(session.get_one(GenerationRow, generation_id))


def hold_shared(session: Session) -> None:
    """Taken by each live write for its transaction (see the module docstring)."""
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": SWITCH_LOCK})


def hold_exclusive(session: Session) -> None:
    """Waits for every live write in progress to commit, and holds off new ones until
    this transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SWITCH_LOCK})


def switch(session: Session, new: Generation, keep_old_s: float) -> Generation | None:
    """Make `new` the active generation, in the caller's transaction (which must
    `hold_exclusive`); the one it replaces is retired, to be dropped after
    `keep_old_s`. Returns the retired one."""
    now = datetime.now(UTC)
    old = active(session)
    if old is not None:
        session.execute(
            update(GenerationRow)
            .where(GenerationRow.id == old.id)
            .values(
                state=GenerationState.RETIRED,
                retired_at=now,
                drop_after=now + timedelta(seconds=keep_old_s),
            )
        )
        session.flush()
    session.execute(
        update(GenerationRow)
        .where(GenerationRow.id == new.id, GenerationRow.state == GenerationState.BUILDING)
        .values(state=GenerationState.ACTIVE, activated_at=now)
    )
    return old


def fail(session: Session, generation_id: int) -> None:
    """A building generation whose reindex gave up: never activated, dropped like a
    retired one."""
    session.execute(
        update(GenerationRow)
        .where(GenerationRow.id == generation_id, GenerationRow.state == GenerationState.BUILDING)
        .values(state=GenerationState.FAILED, drop_after=datetime.now(UTC))
    )


def live(session: Session) -> list[Generation]:
    """Every generation whose collection and rows still exist: what an erasure empties."""
    rows = session.execute(
        select(GenerationRow)
        .where(GenerationRow.state != GenerationState.DROPPED)
        .order_by(GenerationRow.id)
    ).scalars()
    return [Generation.of(row) for row in rows]


def expired(session: Session) -> list[Generation]:
    """Retired or failed generations past their keep time: to be dropped."""
    rows = session.execute(
        select(GenerationRow)
        .where(
            GenerationRow.state.in_([GenerationState.RETIRED, GenerationState.FAILED]),
            GenerationRow.drop_after <= datetime.now(UTC),
        )
        .order_by(GenerationRow.id)
    ).scalars()
    return [Generation.of(row) for row in rows]


def mark_dropped(session: Session, generation_id: int) -> None:
    session.execute(
        update(GenerationRow)
        .where(GenerationRow.id == generation_id)
        .values(state=GenerationState.DROPPED, dropped_at=datetime.now(UTC))
    )


def listing(session: Session) -> list[GenerationRow]:
    return list(session.execute(select(GenerationRow).order_by(GenerationRow.id)).scalars())
