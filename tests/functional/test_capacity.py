"""The capacity model (`make scale`): every key's share derived from a generated population run through
the recorded operations; no key above half a partition's limit; the model's distribution of requests
matches the code's at small scale; a low-cardinality key an operation writes is caught."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench import capacity
from chalicelib.tokens import models as token_model

SMALL = capacity.Population(samples=1_500)


@pytest.fixture(scope="module")
def patterns() -> dict[str, list[capacity.Access]]:
    return capacity.record_patterns()


def test_the_capacity_model_holds_and_matches_the_code(patterns: dict[str, list[capacity.Access]]) -> None:
    worst, where = capacity.hottest(patterns, capacity.Workload(), SMALL)
    assert worst <= capacity.LIMIT_SHARE, where
    assert capacity.small_scale_check(patterns, operations=150) == []


def test_counters_are_derived_and_leases_bound_the_largest_locations_daily_writes(
    patterns: dict[str, list[capacity.Access]],
) -> None:
    loads = capacity.model(patterns, capacity.Workload(), SMALL)
    counters = loads[("rate-limits", "key")]
    daily = max((key for key in counters.keys if key.startswith("d#")), key=lambda key: counters.keys[key][1])
    assert daily.startswith("d#l:loc-0-0#")  # the generated largest location
    requests = SMALL.largest_location_share * capacity.Workload().authorizations_per_s
    assert 0 < counters.keys[daily][1] < requests / 50  # leases: far below one write per request


def test_a_single_due_key_would_fail_the_model(
    patterns: dict[str, list[capacity.Access]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model sees a hot key when the code makes one (as the one-bucket index did)."""
    monkeypatch.setattr(token_model, "due_bucket", lambda token_hash: "due")
    worst, where = capacity.hottest(patterns, capacity.Workload(), SMALL)
    assert worst > capacity.LIMIT_SHARE and "by-due due" in where


def test_a_new_low_cardinality_key_written_by_an_operation_is_caught(
    patterns: dict[str, list[capacity.Access]],
) -> None:
    """No table of shares by attribute name: an operation writing one constant key (here every rotation
    also writing an `events` item under `rotations#all`) is reported hot by the same derivation."""
    changed = dict(patterns)
    changed["rotate later"] = [
        *patterns["rotate later"],
        capacity.Access("events", "ownerKey", "rotations#all", "write", 2.0, 400),
    ]
    worst, where = capacity.hottest(changed, capacity.Workload(), SMALL)
    assert worst > capacity.LIMIT_SHARE and where == "events rotations#all"
    # The same write keyed by the rotated integration's owner stays spread.
    owner_keyed = next(a for a in patterns["rotate later"] if a.target == "events")
    changed["rotate later"] = [*patterns["rotate later"], replace(owner_keyed)]
    assert capacity.hottest(changed, capacity.Workload(), SMALL)[0] <= capacity.LIMIT_SHARE


def test_revoke_all_time_and_item_sizes_are_measured(patterns: dict[str, list[capacity.Access]]) -> None:
    seconds, integrations, where = capacity.revoke_all_seconds(SMALL)
    assert integrations > 1000 and 0 < seconds < 60, where
    sizes = capacity.item_sizes(patterns)
    assert 100 < sizes["tokens"] < 1024 and 100 < sizes["integrations"] < 4096


def test_the_usage_pipeline_prices_the_measured_line_and_firehoses_tiers() -> None:
    """Issue 27's transport choice rests on these: the line is the one format's, measured; Firehose's
    tiers are applied in order; the population's active integrations grow with the window."""
    line = capacity.access_log_line_bytes()
    assert 500 < line < 1000
    assert capacity._firehose_dollars(100) == pytest.approx(2.9)
    assert capacity._firehose_dollars(600_000) == pytest.approx(500_000 * 0.029 + 100_000 * 0.025)
    small = capacity.Population(agencies=200, samples=1)
    assert 0 < capacity.integrations_seen(small, 1_000) < capacity.integrations_seen(small, 100_000)
