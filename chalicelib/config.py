"""Settings from the environment, read once at import.

The same code runs on moto (locally and in tests) and on AWS; only these variables differ.
"""

from __future__ import annotations

import os
from typing import NamedTuple


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


class Settings(NamedTuple):
    # A NamedTuple rather than a dataclass: cheaper to import on the authorizer's cold start.
    stage: str
    region: str
    dynamodb_endpoint: str | None
    table_prefix: str
    session_secret: str | None
    session_secret_id: str | None
    rotation_overlap_seconds: int
    rotation_recommended_after_days: int
    last_used_write_interval_seconds: int
    # "restApiId/stage" pairs of downstream APIs whose authorizer cache a revocation flushes.
    cache_flush_targets: tuple[str, ...] = ()
    # Also flush the stage of this service's own API (taken from the request), on deployed stages.
    flush_own_api: bool = False
    cleanup_rate_minutes: int = 15
    # A run stops taking new work after this long (the function's timeout is 300 s); the rest stays in
    # the due index for the next run.
    cleanup_time_budget_seconds: int = 240
    event_bus_name: str = "default"
    max_integrations_per_owner: int = 100
    authorizer_cache_ttl_seconds: int = 300
    # Rotating the session secret: sessions signed with the previous secret stay valid until this
    # ISO 8601 time (PI_SESSION_SECRET_PREVIOUS locally; deployed, the secret's AWSPREVIOUS version).
    session_secret_previous: str | None = None
    session_secret_previous_until: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        stage = os.environ.get("PI_STAGE", "local")
        return cls(
            stage=stage,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            dynamodb_endpoint=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
            table_prefix=os.environ.get("PI_TABLE_PREFIX", f"pi-{stage}-"),
            session_secret=os.environ.get("PI_SESSION_SECRET") or None,
            session_secret_id=os.environ.get("PI_SESSION_SECRET_ID") or None,
            rotation_overlap_seconds=_int("PI_ROTATION_OVERLAP_SECONDS", 7 * 24 * 3600),
            rotation_recommended_after_days=_int("PI_ROTATION_RECOMMENDED_DAYS", 90),
            last_used_write_interval_seconds=_int("PI_LAST_USED_INTERVAL_SECONDS", 300),
            cache_flush_targets=tuple(
                t for t in os.environ.get("PI_CACHE_FLUSH_TARGETS", "").split(",") if t
            ),
            flush_own_api=os.environ.get("PI_FLUSH_OWN_API", "false").lower() == "true",
            cleanup_rate_minutes=_int("PI_CLEANUP_RATE_MINUTES", 15),
            cleanup_time_budget_seconds=_int("PI_CLEANUP_TIME_BUDGET_SECONDS", 240),
            event_bus_name=os.environ.get("PI_EVENT_BUS_NAME", "default"),
            max_integrations_per_owner=_int("PI_MAX_INTEGRATIONS_PER_OWNER", 100),
            authorizer_cache_ttl_seconds=_int("PI_AUTHORIZER_CACHE_TTL_SECONDS", 300),
            session_secret_previous=os.environ.get("PI_SESSION_SECRET_PREVIOUS") or None,
            session_secret_previous_until=os.environ.get("PI_SESSION_SECRET_PREVIOUS_UNTIL") or None,
        )

    def table_name(self, short_name: str) -> str:
        return f"{self.table_prefix}{short_name}"


settings = Settings.from_env()
