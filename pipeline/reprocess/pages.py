"""A page of items into a generation: chunked and embedded in background slots, then placed
under each user's write lock.

The same path as live ingestion (`placing`), with two differences. The model runs
in background slots (`pipeline.slots`): live jobs go first, and an idle worker lends
the page all of its slots. And the write checks
each item against what is stored now, under its user's lock: an item whose user is
being erased is skipped (so no erased user is written back), and one whose content
changed or that is pending again is skipped too (live ingestion indexes it anew, and
a reindex catches that up).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from pipeline import placing, users
from pipeline.chunking import Piece
from pipeline.db.engine import after_commit
from pipeline.db.models import Item
from pipeline.generations import Generation
from pipeline.metrics import ITEMS_INDEXED
from pipeline.placing import ItemText, Owner
from pipeline.runtime import Runtime
from pipeline.status import ItemState


@dataclass(frozen=True)
class Row:
    owner: Owner
    item: ItemText
    seq: int | None  # its `index_seq`: the catch-up's cursor


def query(*where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """Indexed items matching `where`, with what chunking and placing need."""
    return select(
        *placing.ITEM_COLUMNS, Item.content, Item.org_id, Item.user_pk, Item.index_seq
    ).where(Item.state == ItemState.INDEXED, *where)


def load(session: Session, statement: Select[*tuple[Any, ...]]) -> list[Row]:
    return [
        Row(Owner(r.org_id, r.user_pk), ItemText.of(r, r.content), r.index_seq)
        for r in session.execute(statement)
    ]


@dataclass(frozen=True)
class Embedded:
    rows: list[Row]
    chunked: dict[int, list[Piece]]
    vectors: dict[int, list[list[float]]]


@contextmanager
def slots(runtime: Runtime, deadline: float) -> Iterator[int]:
    """Background slots taken before `deadline`: how many (0: none freed in time). A page
    is `reindex.page_items` per slot held, so that a live job arriving waits for at
    most one slot's page."""
    timeout = max(0.0, deadline - time.monotonic())
    with runtime.slots.background(timeout, most=runtime.slots.background_max) as held:
        yield held


def embed(runtime: Runtime, target: Generation, rows: list[Row], streams: int = 0) -> Embedded:
    """The page chunked and embedded with `target`'s model: on `streams` model streams
    of the runtime's background threads (the caller holds that many slots), or with 0,
    in this thread at its own priority (the caller holds the switch lock, which live
    writes wait for)."""
    chunks = runtime.chunker(target.model).split_many([r.item.source for r in rows])
    chunked = {r.item.id: c for r, c in zip(rows, chunks, strict=True)}
    embedder = runtime.embedder(target.model)
    items = [r.item for r in rows]
    pool = runtime.background if streams else None
    vectors = placing.embed_items(embedder, items, chunked, streams=max(1, streams), pool=pool)
    return Embedded(rows, chunked, vectors)


def write(session: Session, runtime: Runtime, target: Generation, page: Embedded) -> int:
    """Place the page's items that are still as embedded, user by user under their write
    locks (in user order, so two writers never wait on each other); returns chunks."""
    by_user: dict[Owner, list[ItemText]] = defaultdict(list)
    for row in page.rows:
        by_user[row.owner].append(row.item)
    place_in = runtime.target(target)
    written = 0
    for owner in sorted(by_user, key=lambda o: o.user_pk):
        if not users.hold(session, owner.user_pk):
            continue
        items = by_user[owner]
        stored = {
            item_id: content_hash
            for item_id, content_hash in session.execute(
                select(Item.id, Item.content_hash).where(
                    Item.id.in_([i.id for i in items]), Item.state == ItemState.INDEXED
                )
            ).tuples()
        }
        current = [i for i in items if stored.get(i.id) == i.content_hash]
        written += placing.place(session, place_in, owner, current, page.chunked, page.vectors)
        after_commit(session, partial(ITEMS_INDEXED.labels("reprocess").inc, len(current)))
    return written
