"""The embedding slots a worker shares between live jobs and background work."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from pipeline.slots import BACKGROUND_NICE, Slots, lowest_priority
from tests.helpers import wait_for


def test_idle_worker_lends_background_work_every_slot() -> None:
    slots = Slots(total=3)
    with slots.background(timeout_s=1, most=3) as held:
        assert held == 3
        with slots.foreground(timeout_s=0.05) as live:
            assert not live  # all three are the page's until it ends
    with slots.foreground(timeout_s=0) as live:
        assert live


def test_background_takes_one_slot_while_a_live_job_holds_one() -> None:
    slots = Slots(total=3, starve_s=0.05)
    with slots.foreground() as live:
        assert live
        with slots.background(timeout_s=1, most=3) as held:
            assert held == 1  # after starving: one page's share, never the rest
            with slots.foreground(timeout_s=0) as second:
                assert second  # the third slot is still free for live work


def test_background_takes_one_slot_until_live_work_has_been_quiet_a_while() -> None:
    slots = Slots(total=2, quiet_s=0.3)
    with slots.foreground():
        pass
    with slots.background(timeout_s=1, most=2) as held:
        assert held == 1  # a live job just ended: more may come, and reads need threads

    def all_slots_once_quiet() -> bool:
        with slots.background(timeout_s=1, most=2) as held:
            return held == 2

    wait_for(all_slots_once_quiet, timeout=5, what="both slots, once live work was quiet")


def test_background_waits_while_live_jobs_want_slots() -> None:
    slots = Slots(total=2, starve_s=60)
    with slots.foreground(), slots.background(timeout_s=0.1, most=2) as held:
        assert held == 0


def test_background_max_caps_what_background_work_holds() -> None:
    slots = Slots(total=4, background_max=2)
    with slots.background(timeout_s=1, most=4) as held:
        assert held == 2


def test_a_live_job_gets_a_slot_as_soon_as_the_page_ends() -> None:
    slots = Slots(total=1)
    got = threading.Event()

    def live() -> None:
        with slots.foreground(timeout_s=5) as held:
            if held:
                got.set()

    with slots.background(timeout_s=1) as held:
        assert held == 1
        waiter = threading.Thread(target=live)
        waiter.start()
        wait_for(slots.foreground_wants, timeout=5, what="the live job waiting")
        assert not got.is_set()
    waiter.join(5)
    assert got.is_set()


def test_background_threads_run_at_the_lowest_priority_and_only_they() -> None:
    def nice_of_this_thread() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = nice_of_this_thread()
    with ThreadPoolExecutor(1, initializer=lowest_priority) as pool:
        assert pool.submit(nice_of_this_thread).result() == BACKGROUND_NICE
    assert nice_of_this_thread() == before  # the process and its other threads keep theirs
