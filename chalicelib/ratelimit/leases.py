"""Per-container leases of budget from a conditional DynamoDB counter, over fixed windows.

A container that admits a request for a key (an integration at a location in this 10 s window; a
location today) takes one unit from the lease it holds. With none left it reserves a new lease with one
conditional UpdateItem (`ADD count :lease` only while `count <= limit - lease`): the counter never
passes the limit. The price is on the other side: units leased to a container that then receives no
more requests for that key are not used by anyone until the window ends (at most one lease per
container). A container's first lease of a key is 1 and each next one doubles up to the configured cap
(10 burst, 100 daily; slow start: a key with little traffic strands little, a hot key writes once per
cap requests); a key hot in the last window starts the next at its last size. When the counter has
less left than asked, the container reads it and takes exactly what is left.

Unreserved admissions (`Window.unreserved`, default 1): a key this container found cold (no lease
larger than 1 in its last window, never refused) gets its first request(s) in a window admitted with
no write at all; they are added to the container's next reservation of that key in that window. Why:
at thousands of containers a key's traffic reaches each container less than once per window, and a
lease per request is a write per request. The bound it costs: at most `unreserved` requests per
container that served the key in the window beyond the limit (N containers: N times unreserved).

A refused reservation tells the container the window is exhausted: it refuses locally, with no write,
until the window ends. A database error does not serve unlimited traffic nor answer 500: the container
admits at most one more lease's worth per key and window on its own word (logged), then refuses, and
asks the database again after a second.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.core import clock
from chalicelib.ratelimit import store

log = logging.getLogger("private_integrations.ratelimit")

DATABASE_PAUSE_SECONDS = 1.0  # after a database error, a key asks the database again after this long
_PRUNE_AT = 4096  # states kept per container before ended windows are dropped


class Window(NamedTuple):
    """One counted key in one window: `limit` requests until `ends_at`."""

    name: str  # "burst" or "daily": the policy's name in headers and 429s
    key: str  # the counter item's key (includes the window)
    limit: int
    ends_at: datetime
    length_ms: int  # the window's length
    lease_cap: int
    unreserved: int = 0  # requests a container admits before reserving, when it found the key cold


def _base(key: str) -> str:
    """A counter's key without its window: what a container remembers across windows."""
    return key.rpartition("#")[0]


def burst_window(
    counted: str, limit: int, interval_ms: int, lease_cap: int, now: datetime, unreserved: int = 0
) -> Window:
    """The fixed window (aligned to multiples of the interval since the epoch) that `now` falls in."""
    index = int(now.timestamp() * 1000) // interval_ms
    ends_at = datetime.fromtimestamp((index + 1) * interval_ms / 1000, tz=UTC)
    return Window("burst", f"b#{counted}#{index}", limit, ends_at, interval_ms, lease_cap, unreserved)


def daily_window(counted: str, limit: int, lease_cap: int, now: datetime, unreserved: int = 0) -> Window:
    """Today (UTC) for `counted`, ending at the next midnight UTC."""
    day = now.astimezone(UTC).date()
    ends_at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    key = daily_key(counted, day.isoformat())
    return Window("daily", key, limit, ends_at, 86_400_000, lease_cap, unreserved)


def daily_key(counted: str, day: str) -> str:
    return f"d#{counted}#{day}"


@dataclass
class _Lease:
    ends_at: datetime
    left: int = 0  # units this container holds and has not used
    unreported: int = 0  # admitted without a reservation (the key was cold): added to the next one
    reserved: int = 0  # the counter's value after this container's last reservation
    exhausted: bool = False  # a reservation was refused: nothing left in this window
    own_word: int = 0  # admitted without the database (it failed)
    database_paused_until: float = 0.0
    grants: int = 0  # leases this container took in this window (they start small and double)
    limit: int = 0  # the limit the state was counted under (a changed limit asks the counter again)


class Count(NamedTuple):
    admitted: bool
    remaining: int  # what this container believes is left in the window after this request


@dataclass
class Decision:
    """The outcome for one request: admitted or not, and what each window has left."""

    admitted: bool
    windows: list[Window]
    remaining: list[int]
    refused_by: Window | None = None
    now: datetime = field(default_factory=clock.now)

    def seconds_left(self, window: Window) -> int:
        return max(0, math.ceil((window.ends_at - self.now).total_seconds()))

    def headers(self) -> dict[str, str]:
        """The platform's x-ratelimit-* headers (as its official SDK parses them) for the burst and daily
        windows, and draft-ietf-httpapi-ratelimit-headers' RateLimit-Policy and RateLimit for all."""
        pairs = zip(self.windows, self.remaining, strict=True)
        found = {window.name: (window, left) for window, left in pairs}
        headers: dict[str, str] = {}
        if "burst" in found:
            burst, left = found["burst"]
            headers["x-ratelimit-max"] = str(burst.limit)
            headers["x-ratelimit-remaining"] = str(left)
            headers["x-ratelimit-interval-milliseconds"] = str(burst.length_ms)
        if "daily" in found:
            daily, left = found["daily"]
            headers["x-ratelimit-limit-daily"] = str(daily.limit)
            headers["x-ratelimit-daily-remaining"] = str(left)
            # When the daily count starts again: epoch milliseconds (the SDK reads it as `dailyResetMs`).
            headers["x-ratelimit-daily-reset"] = str(int(daily.ends_at.timestamp() * 1000))
        headers["RateLimit-Policy"] = ", ".join(
            f'"{w.name}";q={w.limit};w={math.ceil(w.length_ms / 1000)}' for w in self.windows
        )
        headers["RateLimit"] = ", ".join(
            f'"{w.name}";r={left};t={self.seconds_left(w)}'
            for w, left in zip(self.windows, self.remaining, strict=True)
        )
        if self.refused_by is not None:
            headers["Retry-After"] = str(max(1, self.seconds_left(self.refused_by)))
        return headers


class Limiter:
    """One per container (module-level `limiter`); tests and the bench make their own."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        self._last_lease: dict[str, int] = {}  # per key without its window: the last lease's size
        self._lock = threading.Lock()
        self.writes = 0  # reservations sent (the bench reads it)

    def reset(self) -> None:
        with self._lock:
            self._leases.clear()
            self._last_lease.clear()
            self.writes = 0

    def check(self, windows: list[Window]) -> Decision:
        """Counts one request against every window in order; the first that refuses stops it (the ones
        before it keep the unit they gave: a request refused by its daily limit spent a burst unit)."""
        now = clock.now()
        remaining: list[int] = []
        for index, window in enumerate(windows):
            count = self._take(window, now)
            if not count.admitted:
                # Later windows were not counted: they show what this container last knew of them.
                later = [self.peek(other) for other in windows[index + 1 :]]
                return Decision(False, windows, [*remaining, 0, *later], window, now)
            remaining.append(count.remaining)
        return Decision(True, windows, remaining, None, now)

    def own_correction(self, key: str) -> int:
        """What this container adds to `key`'s counter to count what it admitted: its unreserved
        admissions, less the units it holds and has not used (the page corrects today's counter)."""
        lease = self._leases.get(key)
        return 0 if lease is None else lease.unreported - max(0, lease.left)

    def peek(self, window: Window) -> int:
        lease = self._leases.get(window.key)
        return window.limit if lease is None else self._estimate(window, lease)

    @staticmethod
    def _estimate(window: Window, lease: _Lease) -> int:
        if lease.exhausted:
            return lease.left
        return max(0, window.limit - lease.reserved - lease.unreported + lease.left)

    def _take(self, window: Window, now: datetime) -> Count:
        with self._lock:
            lease = self._leases.get(window.key)
            if lease is None:
                if len(self._leases) >= _PRUNE_AT:
                    self._leases = {k: v for k, v in self._leases.items() if v.ends_at > now}
                    if len(self._last_lease) >= _PRUNE_AT:
                        self._last_lease.clear()
                lease = self._leases[window.key] = _Lease(window.ends_at)
            if lease.limit != window.limit:  # an admin changed the integration's burst limit
                lease.limit, lease.exhausted = window.limit, False
            if lease.left <= 0 and not lease.exhausted and self._unreserved(window, lease):
                lease.unreported += 1
                return Count(True, self._estimate(window, lease))
            if lease.left <= 0 and not lease.exhausted:
                self._refill(window, lease)
            if lease.left <= 0:
                return Count(False, 0)
            lease.left -= 1
            return Count(True, self._estimate(window, lease))

    def _unreserved(self, window: Window, lease: _Lease) -> bool:
        """Admit without a write: the key is cold in this container (it took no lease larger than 1 in
        its last window and was never refused), and it has not yet admitted `unreserved` this window."""
        return (
            lease.unreported < window.unreserved
            and lease.grants == 0
            and lease.own_word == 0
            and self._last_lease.get(_base(window.key), 1) <= 1
        )

    def _refill(self, window: Window, lease: _Lease) -> None:
        if time.monotonic() < lease.database_paused_until:
            self._on_own_word(window, lease)
            return
        expires_at = clock.epoch(window.ends_at) + 3600  # the page reads today's counter until midnight
        # Slow start (1, 2, 4, ... up to the cap): a key with little traffic strands little budget.
        # A key this container found hot in its last window starts where that window ended.
        base = _base(window.key)
        want = min(window.lease_cap, max(2**lease.grants, self._last_lease.get(base, 1)))
        # Never more than the limit leaves (a limit lowered below the lease this key grew to).
        want = min(want, window.limit - lease.unreported)
        if want <= 0:
            lease.exhausted = True
            return
        try:
            for _ in range(3):  # a refused lease is retried smaller, with what the counter has left
                self.writes += 1
                # The unreserved admissions ride along: the counter counts every admitted request.
                total = store.reserve(window.key, want + lease.unreported, window.limit, expires_at)
                if total is not None:
                    lease.left, lease.reserved, lease.unreported = want, total, 0
                    lease.grants += 1
                    self._last_lease[base] = want
                    return
                lease.reserved = store.used(window.key)
                want = window.limit - lease.reserved - lease.unreported
                if want <= 0:
                    break
            lease.exhausted = True
            # Refused: this key is not cold for this container, in this window or the next.
            self._last_lease[base] = max(2, self._last_lease.get(base, 1))
        except (BotoCoreError, ClientError, PynamoDBException) as error:
            log.warning(
                "rate limit counter unavailable (%s): admitting at most %d on this container's word for %s",
                type(error).__name__,
                window.lease_cap,
                window.key,
            )
            lease.database_paused_until = time.monotonic() + DATABASE_PAUSE_SECONDS
            self._on_own_word(window, lease)

    @staticmethod
    def _on_own_word(window: Window, lease: _Lease) -> None:
        """One lease's worth per key and window without the database, then refusals."""
        if lease.own_word < window.lease_cap:
            lease.own_word += 1
            lease.left = 1


limiter = Limiter()
