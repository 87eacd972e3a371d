"""Settings from the environment, read once at import.

The same code runs on moto (locally and in tests) and on AWS; only these variables differ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
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
    # A downstream API's own scopes: a TSV shaped like tokens/data/platform-scopes.tsv.
    extra_scopes_file: str | None = None
    # Rotating the session secret: sessions signed with the previous secret stay valid until this
    # ISO 8601 time (PI_SESSION_SECRET_PREVIOUS locally; deployed, the secret's AWSPREVIOUS version).
    session_secret_previous: str | None = None
    session_secret_previous_until: str | None = None
    # A session lives at most this long (its `exp` - `iat`), and its `iat` may be at most this far
    # ahead of our clock (issue 22).
    session_max_lifetime_seconds: int = 12 * 3600
    session_clock_skew_seconds: int = 60
    # GitHub's secret-scanning keys document (docs/secret-scanning.md): a file locally and in tests, an
    # SSM parameter deployed (a parameter wins when both are set).
    github_keys_file: str | None = None
    github_keys_parameter: str | None = None
    # The outbox (audit events -> EventBridge): the events table's stream, records per invocation, and
    # how often a failing batch is retried before its position goes to the dead-letter queue.
    events_stream_arn: str = "arn:aws:dynamodb:us-east-1:000000000000:table/pi-local-events/stream/local"
    outbox_batch_size: int = 100
    outbox_max_retry_attempts: int = 10
    # The platform's Private Integration rate limits (README "Rate limits"): burst requests per interval per
    # (integration, location), daily requests per location per UTC day. The lease caps bound what one
    # container reserves at a time (and so the writes per request and the budget it may strand).
    rate_limit_burst: int = 100
    rate_limit_interval_ms: int = 10_000
    rate_limit_daily: int = 200_000
    rate_limit_burst_lease: int = 10
    rate_limit_daily_lease: int = 100
    # Requests a container admits per key and window before reserving, when it found the key cold: no
    # write for a key its container sees once a window; the bound: this many per container over the limit.
    rate_limit_unreserved: int = 1
    # How long a container trusts the burst limit it read from an integration (an edit applies at once in
    # the container that made it, within this many seconds in every other).
    rate_limit_settings_seconds: int = 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """From the process environment, or from `environ` (infra/build.py derives a stage's names)."""
        env = os.environ if environ is None else environ
        stage = env.get("PI_STAGE", "local")
        return cls(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
            table_prefix=env.get("PI_TABLE_PREFIX", f"pi-{stage}-"),
            session_secret=env.get("PI_SESSION_SECRET") or None,
            session_secret_id=env.get("PI_SESSION_SECRET_ID") or None,
            rotation_overlap_seconds=_int(env, "PI_ROTATION_OVERLAP_SECONDS", 7 * 24 * 3600),
            rotation_recommended_after_days=_int(env, "PI_ROTATION_RECOMMENDED_DAYS", 90),
            last_used_write_interval_seconds=_int(env, "PI_LAST_USED_INTERVAL_SECONDS", 300),
            cache_flush_targets=tuple(t for t in env.get("PI_CACHE_FLUSH_TARGETS", "").split(",") if t),
            flush_own_api=env.get("PI_FLUSH_OWN_API", "false").lower() == "true",
            cleanup_rate_minutes=_int(env, "PI_CLEANUP_RATE_MINUTES", 15),
            cleanup_time_budget_seconds=_int(env, "PI_CLEANUP_TIME_BUDGET_SECONDS", 240),
            event_bus_name=env.get("PI_EVENT_BUS_NAME", "default"),
            max_integrations_per_owner=_int(env, "PI_MAX_INTEGRATIONS_PER_OWNER", 100),
            authorizer_cache_ttl_seconds=_int(env, "PI_AUTHORIZER_CACHE_TTL_SECONDS", 300),
            extra_scopes_file=env.get("PI_EXTRA_SCOPES_FILE") or None,
            session_secret_previous=env.get("PI_SESSION_SECRET_PREVIOUS") or None,
            session_secret_previous_until=env.get("PI_SESSION_SECRET_PREVIOUS_UNTIL") or None,
            session_max_lifetime_seconds=_int(env, "PI_SESSION_MAX_LIFETIME_SECONDS", 12 * 3600),
            session_clock_skew_seconds=_int(env, "PI_SESSION_CLOCK_SKEW_SECONDS", 60),
            github_keys_file=env.get("PI_GITHUB_KEYS_FILE") or None,
            github_keys_parameter=env.get("PI_GITHUB_KEYS_PARAMETER") or None,
            events_stream_arn=env.get("PI_EVENTS_STREAM_ARN")
            or f"arn:aws:dynamodb:us-east-1:000000000000:table/pi-{stage}-events/stream/local",
            outbox_batch_size=_int(env, "PI_OUTBOX_BATCH_SIZE", 100),
            outbox_max_retry_attempts=_int(env, "PI_OUTBOX_MAX_RETRY_ATTEMPTS", 10),
            rate_limit_burst=_int(env, "PI_RATE_LIMIT_BURST", 100),
            rate_limit_interval_ms=_int(env, "PI_RATE_LIMIT_INTERVAL_MS", 10_000),
            rate_limit_daily=_int(env, "PI_RATE_LIMIT_DAILY", 200_000),
            rate_limit_burst_lease=_int(env, "PI_RATE_LIMIT_BURST_LEASE", 10),
            rate_limit_daily_lease=_int(env, "PI_RATE_LIMIT_DAILY_LEASE", 100),
            rate_limit_unreserved=_int(env, "PI_RATE_LIMIT_UNRESERVED", 1),
            rate_limit_settings_seconds=_int(env, "PI_RATE_LIMIT_SETTINGS_SECONDS", 60),
        )

    def table_name(self, short_name: str) -> str:
        return f"{self.table_prefix}{short_name}"

    @property
    def session_secret_name(self) -> str:
        """The Secrets Manager secret a deployed stage creates and reads (infra/build.py)."""
        return f"private-integrations/{self.stage}/session-secret"

    @property
    def github_keys_parameter_name(self) -> str:
        """The SSM parameter a deployed stage creates for GitHub's secret-scanning keys (infra/build.py)."""
        return f"/private-integrations/{self.stage}/github-secret-scanning-keys"


settings = Settings.from_env()
