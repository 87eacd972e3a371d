"""The rate limiter's cost and accuracy (issue 26), printed by `make bench` as `name: value` lines.

Run against the embedded moto server `bench/run.py` starts (tables created). Simulated Lambda containers
are threads, each with its own `Limiter` (its own leases), hammering one integration at one location in
one 10 s window of a stopped clock: admitted minus the limit is the over-admission; reservations sent per
admitted request are the writes per request.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from chalicelib.core import clock, config
from chalicelib.ratelimit import Limiter, Window, burst_window, daily_window

START = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


def _windows(run: str, now: datetime, unreserved: int | None = None) -> list[Window]:
    settings = config.settings
    free = settings.rate_limit_unreserved if unreserved is None else unreserved
    return [
        burst_window(
            f"bench-{run}#l:loc-bench",
            settings.rate_limit_burst,
            settings.rate_limit_interval_ms,
            settings.rate_limit_burst_lease,
            now,
            free,
        ),
        # The daily count is exact: unreserved admissions are for the default burst limit only.
        daily_window(f"l:loc-bench-{run}", settings.rate_limit_daily, settings.rate_limit_daily_lease, now),
    ]


def over_admission(containers: int, requests_each: int = 150) -> tuple[int, int, float]:
    """(admitted, writes, seconds) of `containers` threads sending `requests_each` in one window."""
    now = START
    clock.set_source(lambda: now)
    run = f"c{containers}-{time.monotonic_ns()}"
    limiters = [Limiter() for _ in range(containers)]
    admitted = [0] * containers
    barrier = threading.Barrier(containers)

    def hammer(index: int) -> None:
        barrier.wait()
        for _ in range(requests_each):
            if limiters[index].check(_windows(run, now)).admitted:
                admitted[index] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(containers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.reset()
    return sum(admitted), sum(limiter.writes for limiter in limiters), time.perf_counter() - started


def steady_state(windows: int = 30, per_window: int = 100) -> tuple[float, list[float]]:
    """One container, one hot key at its limit for `windows` windows: writes per admitted request and
    the time each check took (what the limiter adds to a v2 request)."""
    moment = START
    clock.set_source(lambda: moment)
    limiter = Limiter()
    run = f"steady-{time.monotonic_ns()}"
    admitted, times = 0, []
    for _ in range(windows):
        for _ in range(per_window):
            started = time.perf_counter()
            decision = limiter.check(_windows(run, moment))
            times.append((time.perf_counter() - started) * 1000)
            admitted += decision.admitted
        moment += timedelta(milliseconds=config.settings.rate_limit_interval_ms)
    clock.reset()
    return limiter.writes / admitted, times


def thin_spread(
    requests_per_window: int, containers: int = 200, windows: int = 4, unreserved: int | None = None
) -> tuple[float, float]:
    """A key whose traffic reaches each of `containers` less than a few times a window (how one
    integration's requests spread over a large Lambda fleet): (admitted per window, burst counter writes
    per request) over `windows` windows, each request sent to a container drawn at random."""
    moment = START
    clock.set_source(lambda: moment)
    limiters = [Limiter() for _ in range(containers)]
    run = f"thin-{requests_per_window}-{unreserved}-{time.monotonic_ns()}"
    draw = random.Random(26)
    admitted = 0
    for _ in range(windows):
        for _ in range(requests_per_window):
            burst = _windows(run, moment, unreserved)[:1]  # the daily window's leases last the day
            admitted += limiters[draw.randrange(containers)].check(burst).admitted
        moment += timedelta(milliseconds=config.settings.rate_limit_interval_ms)
    clock.reset()
    writes = sum(limiter.writes for limiter in limiters)
    return admitted / windows, writes / (requests_per_window * windows)


def main() -> None:
    limit = config.settings.rate_limit_burst
    for containers in (1, 4, 16):
        admitted, writes, _ = over_admission(containers)
        print(
            f"ratelimit_over_admission_{containers}_containers: {admitted - limit}"
            f"  # admitted {admitted} of {containers * 150} against a burst limit of {limit}; {writes} writes"
        )
    free = config.settings.rate_limit_unreserved
    for share, label in ((0.5, "half_its_limit"), (3.0, "three_times_its_limit")):
        per_window = int(limit * share)
        admitted_exact, writes_exact = thin_spread(per_window, unreserved=0)
        admitted_free, writes_free = thin_spread(per_window)
        print(
            f"ratelimit_thin_key_{label}_burst_writes_per_request: {writes_free:.3f}"
            f"  # {per_window} requests per window over 200 containers; {writes_exact:.3f} reserving every"
            f" request (PI_RATE_LIMIT_UNRESERVED=0), ratio {writes_free / writes_exact:.2f}"
        )
        print(
            f"ratelimit_thin_key_{label}_admitted_per_window: {admitted_free:.0f}"
            f"  # limit {limit}; {admitted_exact:.0f} reserving every request; bound limit + 200 x {free}"
        )
    writes_per_request, times = steady_state()
    print(f"ratelimit_writes_per_request_hot_key: {writes_per_request:.3f}  # burst and daily counters")
    ordered = sorted(times)
    print(f"ratelimit_added_ms_median: {statistics.median(ordered):.3f}  # a request served from the lease")
    print(f"ratelimit_added_ms_mean: {statistics.fmean(ordered):.3f}  # writes amortized (moto server)")
    print(f"ratelimit_added_ms_p99: {ordered[int(len(ordered) * 0.99)]:.3f}  # a request that takes a lease")
