"""What every table model shares: table naming, endpoint and timeouts from settings."""

from __future__ import annotations

from typing import Any

from chalicelib.core.config import settings


def table_meta(short_name: str, stream_view_type: str | None = None) -> Any:
    """`stream_view_type` ("NEW_IMAGE"): the table has a DynamoDB Stream (infra/build.py reads it too)."""

    class Meta:
        table_name = settings.table_name(short_name)
        region = settings.region
        host = settings.dynamodb_endpoint
        billing_mode = "PAY_PER_REQUEST"
        # Fail fast: the authorizer sits on every request and must deny rather than hang.
        connect_timeout_seconds = 2
        read_timeout_seconds = 3
        max_retry_attempts = 2

    if stream_view_type:
        Meta.stream_view_type = stream_view_type  # type: ignore[attr-defined]
    return Meta


def index_meta(index_name: str, projection: Any) -> Any:
    class Meta:
        pass

    Meta.index_name = index_name  # type: ignore[attr-defined]
    Meta.projection = projection  # type: ignore[attr-defined]
    return Meta
