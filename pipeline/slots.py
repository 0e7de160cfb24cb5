"""The embedding streams of a worker process, shared by live work and background work.

A worker runs at most `total` embedding streams at once (`embedding.parallel`):
each holds one onnxruntime stream, and more streams than cores only make each
slower. Live ingestion is the foreground: a job takes any free slot. Reprocessing
(a reindex, a repair) is the background: it takes slots only when no foreground
job holds or waits for one, at most `background_max` at a time (by default every
slot: a worker with no live work for `quiet_s` reindexes at full speed; one with live
work lately, on one slot), and for one page of work per slot, so a live job arriving
waits for at most the end of that page. So that a reindex still ends under a steady
live load, background work that has waited `starve_s` takes a free slot anyway, for
one page: a small, bounded share.

Slots share out the model's streams, not the cores: a background page embeds on the
runtime's background threads at the lowest CPU priority (`lowest_priority`), so a read
or a live job that needs a core while every slot is busy with a page gets it first.
Measured with `make bench-reindex` (20,000 items, 2 cores): every slot to the
background after 5-30 s without a live job, at normal priority, kept live ingestion at
0.76-0.84 of its idle rate but put /chunks p99 at 2.5-11x idle; at the lowest priority,
0.94 and 0.70x.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

BACKGROUND_NICE = 19
"""The CPU priority of background embedding threads: the lowest."""


def lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority to `nice` (a thread pool's initializer).
    On Linux a thread is a task of its own, with its own nice value; where that cannot be
    set, the work runs at normal priority and says so once per thread."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError) as exc:
        log.warning("embedding threads keep normal CPU priority: %s", exc)


def lowest_priority() -> None:
    """`lower_priority` to `BACKGROUND_NICE`: the background's threads."""
    lower_priority(BACKGROUND_NICE)


class Slots:
    def __init__(
        self,
        total: int,
        background_max: int | None = None,
        starve_s: float = 2.0,
        quiet_s: float = 30.0,
    ) -> None:
        self.total = total
        self.background_max = max(1, min(background_max or total, total))
        self.starve_s = starve_s
        self.quiet_s = quiet_s
        self._live_at = -float("inf")  # when a live job last took or gave back a slot
        self._changed = threading.Condition()
        self._foreground = 0  # holding
        self._waiting = 0  # foreground jobs waiting for a slot
        self._background = 0

    def _free(self) -> int:
        return self.total - self._foreground - self._background

    @contextmanager
    def foreground(self, timeout_s: float | None = None) -> Iterator[bool]:
        """A slot for a live job: yields False when none freed within `timeout_s`
        (None: wait for one)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._changed:
            self._waiting += 1
            try:
                while self._free() <= 0:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._changed.wait(left)
                held = self._free() > 0
                if held:
                    self._foreground += 1
                    self._live_at = time.monotonic()
            finally:
                self._waiting -= 1
                self._changed.notify_all()
        try:
            yield held
        finally:
            if held:
                with self._changed:
                    self._foreground -= 1
                    self._live_at = time.monotonic()
                    self._changed.notify_all()

    def _background_may_start(self, waited_s: float) -> bool:
        room = self._background < self.background_max and self._free() > 0
        idle = self._foreground == 0 and self._waiting == 0
        return room and (idle or waited_s >= self.starve_s)

    def _quiet(self) -> bool:
        """No live job has held a slot for `quiet_s`: background work may take them all."""
        return time.monotonic() - self._live_at >= self.quiet_s

    @contextmanager
    def background(self, timeout_s: float | None = None, most: int = 1) -> Iterator[int]:
        """Slots for background work, one page each, once the foreground is idle: yields
        how many it holds, 0 when it got none within `timeout_s`, and more than one
        (up to `most`) only when no live job has held a slot for `quiet_s`."""
        started = time.monotonic()
        deadline = None if timeout_s is None else started + timeout_s
        with self._changed:
            while not self._background_may_start(time.monotonic() - started):
                now = time.monotonic()
                left = None if deadline is None else deadline - now
                if left is not None and left <= 0:
                    break
                starving_in = self.starve_s - (now - started)
                waits = [t for t in (left, starving_in) if t is not None and t > 0]
                self._changed.wait(min(waits) if waits else 0.05)
            held = 0
            if self._background_may_start(time.monotonic() - started):
                held = 1
                self._background += 1
                while held < most and self._quiet() and self._background_may_start(0.0):
                    held += 1
                    self._background += 1
        try:
            yield held
        finally:
            if held:
                with self._changed:
                    self._background -= held
                    self._changed.notify_all()

    def foreground_wants(self) -> bool:
        """Whether a live job holds or waits for a slot: background work between two
        batches gives way when it does."""
        with self._changed:
            return self._foreground > 0 or self._waiting > 0
