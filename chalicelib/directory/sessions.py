"""Session JWTs (HS256) -> the calling user. Integration tokens are never sessions.

A session carries `sub`, `iat` and `exp`; it lives at most PI_SESSION_MAX_LIFETIME_SECONDS (`exp` - `iat`,
12 h by default), its `iat` is at most PI_SESSION_CLOCK_SKEW_SECONDS ahead of our clock, and it is
refused once an emergency revoke-all of its user's agency has set the agency's `sessionsValidAfter` at
or after its `iat` (the agency item is read consistently on every check). Token-issuing transactions
repeat that check as a condition on the agency item (`still_valid`), so a request whose session was
checked before a revoke-all cannot commit a token after it.
"""

from __future__ import annotations

import functools
import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import clock, config
from chalicelib.core.errors import Unauthorized
from chalicelib.directory import accounts as directory
from chalicelib.directory.models import AgencyModel, UserModel
from chalicelib.tokens.token_text import PREFIX as TOKEN_PREFIX

# PyJWT is imported where a session is minted or checked, not with the module: it imports
# `cryptography` when installed (the deployed package has it for secret scanning), ~30 ms of the API
# handler's cold start that v2 requests, which never see a session, need not pay.
LOCAL_DEV_SECRET = "local-dev-session-secret-change-me"
log = logging.getLogger("private_integrations.sessions")


@functools.cache
def session_secret() -> str:
    """PI_SESSION_SECRET, else the Secrets Manager secret PI_SESSION_SECRET_ID (read once per container)."""
    if config.settings.session_secret:
        return config.settings.session_secret
    if config.settings.session_secret_id:
        import boto3  # only deployed stages read it; keeps boto3 off the local import path

        secrets = boto3.client("secretsmanager", region_name=config.settings.region)
        return str(secrets.get_secret_value(SecretId=config.settings.session_secret_id)["SecretString"])
    if config.settings.stage in ("local", "test"):
        return LOCAL_DEV_SECRET
    raise RuntimeError("No session secret configured: set PI_SESSION_SECRET or PI_SESSION_SECRET_ID")


@functools.cache
def previous_session_secret() -> str | None:
    """The secret before the last rotation: PI_SESSION_SECRET_PREVIOUS, else the AWSPREVIOUS version of
    the Secrets Manager secret (Secrets Manager keeps it when a new value is put)."""
    if config.settings.session_secret_previous:
        return config.settings.session_secret_previous
    if config.settings.session_secret_id:
        import boto3

        secrets = boto3.client("secretsmanager", region_name=config.settings.region)
        answer = secrets.get_secret_value(
            SecretId=config.settings.session_secret_id, VersionStage="AWSPREVIOUS"
        )
        return str(answer["SecretString"])
    return None


def _grace_until() -> datetime | None:
    raw = config.settings.session_secret_previous_until
    if not raw:
        return None
    try:
        until = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        log.error("PI_SESSION_SECRET_PREVIOUS_UNTIL is not an ISO 8601 time: the previous secret is refused")
        return None
    return until if until.tzinfo else until.replace(tzinfo=UTC)  # a time without offset is UTC


def verification_secrets() -> list[str]:
    """The current secret, and the previous one while its grace period lasts (rotation without
    logging everyone out at once)."""
    found = [session_secret()]
    until = _grace_until()
    if until is not None and clock.now() < until:
        previous = previous_session_secret()
        if previous and previous not in found:
            found.append(previous)
    return found


def mint(user_id: str, ttl: timedelta = timedelta(hours=12)) -> str:
    """A session token for a user (the local dev server and tests; the platform mints them in production)."""
    issued = clock.now()
    claims = {"sub": user_id, "iat": int(issued.timestamp()), "exp": int((issued + ttl).timestamp())}
    import jwt

    return jwt.encode(claims, session_secret(), algorithm="HS256")


def authenticate(authorization: str | None) -> UserModel:
    """The Authorization header -> an existing user, or 401 saying what is wrong."""
    if not authorization:
        raise Unauthorized("Send a session token: 'Authorization: Bearer <session JWT>'.")
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("The Authorization header must be 'Bearer <session JWT>'.")
    if credential.startswith(TOKEN_PREFIX):
        raise Unauthorized(
            "Private Integration tokens are not accepted here: management routes need a session token."
        )
    claims = _decode(credential)
    _check_times(claims)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("The session token has no user: sign in again.")
    user = directory.find_user(sub)
    if user is None:
        raise Unauthorized("The session token's user does not exist: sign in again.")
    user.session_issued_at = int(claims["iat"])
    require_not_ended(user)
    return user


def ended_message(valid_after: int) -> str:
    moment = clock.iso(datetime.fromtimestamp(valid_after, UTC))
    return f"This session was ended by an emergency revoke-all of your agency at {moment}: sign in again."


def require_not_ended(user: UserModel) -> None:
    """401 when an emergency revoke-all of the user's agency ended the session it came with."""
    try:
        agency = AgencyModel.get(user.agency_id, consistent_read=True)
    except AgencyModel.DoesNotExist:
        raise Unauthorized("The session token's agency does not exist: sign in again.") from None
    valid_after = agency.sessions_valid_after
    if valid_after is not None and _issued_at(user) <= valid_after:
        raise Unauthorized(ended_message(int(valid_after)))


def _issued_at(user: UserModel) -> int:
    """The session's `iat`; a caller without a session (seed, scripts) counts as issued now."""
    if user.session_issued_at is not None:
        return user.session_issued_at
    return clock.epoch(clock.now())


def still_valid(user: UserModel) -> Any:
    """The condition on the user's agency item that every token-issuing transaction carries: no
    revoke-all has ended this session since it was checked (the fence against a racing revoke-all)."""
    return AgencyModel.sessions_valid_after.does_not_exist() | (
        AgencyModel.sessions_valid_after < _issued_at(user)
    )


def _decode(credential: str) -> dict[str, Any]:
    """The claims, if the signature is one of the accepted secrets'; else 401."""
    import jwt

    for secret in verification_secrets():
        try:
            # Times are checked against our clock afterwards (tests move it without sleeping), so PyJWT
            # checks the signature, the algorithm and that `sub`, `exp` and `iat` are present.
            return dict(
                jwt.decode(
                    credential,
                    secret,
                    algorithms=["HS256"],
                    options={
                        "require": ["sub", "exp", "iat"],
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                    },
                )
            )
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with the other accepted secret
        except jwt.PyJWTError:
            break
    raise Unauthorized("The session token is invalid: sign in again.")


def _check_times(claims: dict[str, Any]) -> None:
    """`exp`, `nbf` and `iat` must be finite numbers (JSON parses NaN, Infinity and 1e400 to floats on
    which every comparison is false or never true), `exp` still ahead and `nbf` reached, by our clock;
    `iat` not beyond the clock skew and `exp` - `iat` within the maximum lifetime."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise Unauthorized(f"The session token's '{name}' is not a time: sign in again.")
    now = clock.now().timestamp()
    if claims["exp"] <= now:
        raise Unauthorized("The session token has expired: sign in again.")
    if "nbf" in claims and claims["nbf"] > now:
        raise Unauthorized("The session token is not valid yet: sign in again later.")
    settings = config.settings
    if claims["iat"] > now + settings.session_clock_skew_seconds:
        raise Unauthorized("The session token was issued in the future ('iat'): sign in again.")
    if claims["exp"] - claims["iat"] > settings.session_max_lifetime_seconds:
        hours = settings.session_max_lifetime_seconds / 3600
        raise Unauthorized(
            f"The session token lasts longer than {hours:g} hours ('exp' - 'iat'): sign in again."
        )
