"""The one source of time. Tests replace it with a controllable clock instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
monotonic = time.monotonic  # wall time for work budgets (tests replace it: the product clock stands still)


class ManualClock:
    """A clock that moves only when told to: tests and benchmarks use it through set_source()."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def now() -> datetime:
    return _source()


def set_source(source: Callable[[], datetime]) -> None:
    global _source
    _source = source


def reset() -> None:
    set_source(lambda: datetime.now(UTC))


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with millisecond precision and a Z suffix, as every response shows times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch(moment: datetime) -> int:
    """Epoch seconds, as DynamoDB's TTL attribute and the due index store times."""
    return int(moment.timestamp())


def out_of_time_after(seconds: float) -> Callable[[], bool]:
    """A work budget: the returned check is True once `seconds` of wall time have passed."""
    deadline = monotonic() + seconds
    return lambda: monotonic() >= deadline
