"""Rotating the session secret: sessions signed with the previous secret work until the grace ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest

from chalicelib.core import clock, config
from chalicelib.directory import sessions
from tests.support.world import Api, FakeClock

OLD, NEW = "old-session-secret-0123456789abcdef", "new-session-secret-0123456789abcdef"


def session(user: str, secret: str) -> str:
    now = clock.now()
    claims = {"sub": user, "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=12)).timestamp())}
    return jwt.encode(claims, secret, algorithm="HS256")


def me(api: Api, token: str) -> int:
    return int(api.get("/me", user=None, headers={"Authorization": f"Bearer {token}"}).status_code)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Change the session settings for one test (the secrets are read once per container)."""

    def change(**fields: Any) -> None:
        monkeypatch.setattr(config, "settings", config.settings._replace(**fields))
        sessions.session_secret.cache_clear()
        sessions.previous_session_secret.cache_clear()

    yield change
    monkeypatch.undo()
    sessions.session_secret.cache_clear()
    sessions.previous_session_secret.cache_clear()


@pytest.fixture
def rotated(configure: Callable[..., None], frozen_clock: FakeClock) -> None:
    """NEW is current; OLD is accepted for one hour from the frozen clock's now."""
    until = (frozen_clock.current + timedelta(hours=1)).isoformat()
    configure(session_secret=NEW, session_secret_previous=OLD, session_secret_previous_until=until)


def test_previous_secret_is_accepted_until_its_grace_ends_then_401(
    rotated: None, api: Api, frozen_clock: FakeClock
) -> None:
    signed_before = session("admin", OLD)  # a user who signed in before the rotation
    assert me(api, signed_before) == 200
    assert me(api, session("admin", NEW)) == 200
    assert me(api, sessions.mint("admin")) == 200  # new sessions are signed with the new secret
    assert me(api, session("admin", "some-other-secret-0123456789abcdef")) == 401
    frozen_clock.advance(minutes=59)
    assert me(api, signed_before) == 200
    frozen_clock.advance(minutes=1)  # the grace period has ended
    answer = api.get("/me", user=None, headers={"Authorization": f"Bearer {signed_before}"})
    assert answer.status_code == 401
    assert answer.json_body["message"] == "The session token is invalid: sign in again."
    assert me(api, session("admin", NEW)) == 200


def test_without_a_grace_period_only_the_current_secret_signs(
    configure: Callable[..., None], api: Api
) -> None:
    configure(session_secret=NEW, session_secret_previous=OLD)
    assert me(api, session("admin", OLD)) == 401
    assert me(api, session("admin", NEW)) == 200


def test_deployed_previous_secret_is_the_secrets_previous_version(
    configure: Callable[..., None], api: Api, frozen_clock: FakeClock
) -> None:
    """Deployed stages read both from Secrets Manager: putting a new value keeps the old as AWSPREVIOUS."""
    import boto3

    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(Name="pi/test/session", SecretString=OLD)
    secrets.put_secret_value(SecretId="pi/test/session", SecretString=NEW)
    until = (frozen_clock.current + timedelta(days=1)).isoformat()
    configure(session_secret=None, session_secret_id="pi/test/session", session_secret_previous_until=until)
    assert me(api, session("admin", OLD)) == 200 and me(api, session("admin", NEW)) == 200
    frozen_clock.advance(days=1)
    assert me(api, session("admin", OLD)) == 401 and me(api, session("admin", NEW)) == 200
