"""The capacity model (`make scale`): no key above half a partition's limit at the stated workload, and
the model's distribution of requests matches the code's at small scale."""

from __future__ import annotations

import pytest

from bench import capacity
from chalicelib.tokens import models as token_model


def test_the_capacity_model_holds_and_matches_the_code() -> None:
    patterns = capacity.record_patterns()
    worst, where = capacity.hottest(patterns, capacity.Workload())
    assert worst <= capacity.LIMIT_SHARE, where
    # The hottest key is the due index's, spread over its shards by the code's own due_bucket().
    assert "by-due" in where or worst < 0.05
    assert capacity.small_scale_check(patterns, operations=300) == []


def test_a_single_due_key_would_fail_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model sees a hot key when the code makes one (as the one-bucket index did)."""
    patterns = capacity.record_patterns()
    capacity.due_index_hottest_share.cache_clear()
    monkeypatch.setattr(token_model, "due_bucket", lambda token_hash: "due")
    try:
        worst, where = capacity.hottest(patterns, capacity.Workload())
    finally:
        monkeypatch.undo()
        capacity.due_index_hottest_share.cache_clear()
    assert worst > capacity.LIMIT_SHARE and "by-due" in where
