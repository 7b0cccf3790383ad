"""Holds: the files of a task resolving a conflict, held for it, queued for by others, never forever."""

from __future__ import annotations

from shipyard.fleet.holds import Holds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_conflict_holds_its_files_for_the_task_and_blocks_only_others() -> None:
    holds = Holds(60, Clock())
    assert not holds.held() and holds.next_expiry_s() is None
    holds.take(1, ["hot.txt", "b.txt"])
    assert holds.held() and holds.holds_any(1) and not holds.holds_any(2)
    assert holds.blocker(2, ["other.txt", "hot.txt"]) == 1
    assert holds.blocker(2, ["other.txt"]) is None
    assert holds.blocker(1, ["hot.txt"]) is None  # a holder is never blocked by its own hold
    assert holds.next_expiry_s() == 60


def test_the_next_in_line_gets_a_released_file_and_the_rest_wait_their_turn() -> None:
    holds = Holds(60, Clock())
    holds.take(1, ["hot.txt"])
    holds.take(2, ["hot.txt"])
    holds.take(3, ["hot.txt"])
    holds.take(2, ["hot.txt"])  # queueing twice keeps one place
    assert holds.blocker(3, ["hot.txt"]) == 1
    assert holds.release(1)
    assert holds.blocker(3, ["hot.txt"]) == 2 and holds.holds_any(2)
    assert holds.release(3)  # leaving the queue counts as a change too
    assert holds.release(2)
    assert not holds.held()
    assert not holds.release(2)  # nothing left to release


def test_a_hold_runs_out_and_passes_on() -> None:
    clock = Clock()
    holds = Holds(60, clock)
    holds.take(1, ["hot.txt"])
    clock.now += 30
    holds.take(2, ["hot.txt"])
    assert holds.next_expiry_s() == 30
    clock.now += 31
    assert holds.blocker(3, ["hot.txt"]) == 2  # task 1 hung: its hold ran out, the next one has it
    assert holds.next_expiry_s() == 60
    clock.now += 61
    assert not holds.held()


def test_holding_for_zero_seconds_holds_nothing() -> None:
    holds = Holds(0, Clock())
    holds.take(1, ["hot.txt"])
    assert not holds.held() and holds.blocker(2, ["hot.txt"]) is None
