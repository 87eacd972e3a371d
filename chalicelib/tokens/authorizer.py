"""The Lambda authorizer: Bearer token -> IAM policy and context. One GetItem at most, no planning.

Import path kept lean (no boto3, no JWT, no Chalice, no policy planner): this module runs cold on every
new authorizer instance, in front of every v2 request. The policy comes planned with the token item
(stored_policy.py); only a token planned under another catalog is planned here, once per instance.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chalicelib.core import clock, config, emf
from chalicelib.core.vocabulary import OwnerType, TokenState
from chalicelib.tokens import address_match, stored_policy, token_text
from chalicelib.tokens.context import TokenContext
from chalicelib.tokens.models import TokenModel

log = logging.getLogger("private_integrations.authorizer")
LIVE_STATES = frozenset({TokenState.ACTIVE, TokenState.ROTATING})


class Unauthorized(Exception):
    """API Gateway answers 401 when a Lambda authorizer fails with exactly this message."""

    def __init__(self, outcome: str = emf.DENY_UNKNOWN) -> None:
        super().__init__("Unauthorized")
        self.outcome = outcome  # why, for the metrics only (the caller always sees the same 401)


class AuthorizerUnavailable(Exception):
    """The token could not be checked (database error): API Gateway answers 500, never Allow."""


def _bearer(header: str | None) -> str:
    scheme, _, credential = (header or "").strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def _touch_last_used(item: TokenModel, now: int) -> bool:
    """Record use at most once per interval per token; a failed write never fails the request.
    True when this call wrote it."""
    interval = config.settings.last_used_write_interval_seconds
    if item.last_used_at is not None and now - int(item.last_used_at) < interval:
        return False
    try:
        item.update(
            actions=[TokenModel.last_used_at.set(now)],
            # Never resurrect a token deleted meanwhile; lose the race quietly to another instance.
            condition=TokenModel.token_hash.exists()
            & (TokenModel.last_used_at.does_not_exist() | (TokenModel.last_used_at <= now - interval)),
        )
    except Exception as error:
        log.info("lastUsedAt not written: %s", type(error).__name__)
        return False
    return True


def _globs(
    item: TokenModel, scopes: frozenset[str], own_location: str | None
) -> tuple[stored_policy.Globs, bool]:
    """The token's (allow, deny) globs, and whether they had to be planned now."""
    if item.policy is not None and item.policy_version == stored_policy.version():
        try:
            return stored_policy.decode(item.policy), False
        except ValueError:  # a damaged item
            log.error("token of integration %s has an unreadable stored policy", item.integration_id)
    # Planned under another catalog (a deploy changed it; the replan script has not reached this token
    # yet), or damaged: plan now, correct but slow. Counted, so an operator sees the script is due.
    from chalicelib.tokens import policy

    log.warning("token of integration %s planned on the request path", item.integration_id)
    return policy.globs(scopes, item.owner_type, own_location), True


def authorize(authorization: str | None, method_arn: str, source_ip: str | None = None) -> dict[str, Any]:
    """The decision for a caller at `source_ip` (API Gateway's `context.identity.sourceIp`; None when
    the event carries none, e.g. a TOKEN-typed attachment: outside every allowlist), and one EMF metric
    line saying which outcome it was and how long it took."""
    started = time.perf_counter()
    outcome, wrote, planned = emf.ERROR, False, False
    try:
        answer, wrote, planned = _decide(authorization, method_arn, source_ip)
        outcome = emf.DENY_ADDRESS if REFUSAL in answer["context"] else emf.ALLOW
        return answer
    except Unauthorized as denied:
        outcome = denied.outcome
        raise
    finally:
        emf.authorization(outcome, (time.perf_counter() - started) * 1000, wrote, planned)


# Context keys. On a Deny for an address, REFUSAL is "address" and SOURCE_IP the caller's address: the
# ACCESS_DENIED gateway response reads them ($context.authorizer.refusal / .sourceIp) to say why, instead
# of naming a scope. On an Allow, OUTSIDE_ALLOWLIST is "true" when the caller was outside a list in
# report mode, else "false" (usage counting reads it).
REFUSAL, SOURCE_IP, OUTSIDE_ALLOWLIST = "refusal", "sourceIp", "outsideAllowlist"
UNKNOWN_ADDRESS = "unknown"


def _outside_allowlist(item: TokenModel, source_ip: str | None) -> tuple[bool, bool]:
    """(the caller is outside the token's list, the list is enforced); (False, False) without a list."""
    if item.allowlist is None:
        return False, False
    try:
        listed = address_match.unpack(bytes(item.allowlist))
    except ValueError:
        log.error("token of integration %s has an unreadable allowlist", item.integration_id)
        raise AuthorizerUnavailable("unreadable allowlist") from None  # fail closed: 500, never Allow
    report, _ = listed
    return address_match.outside(listed, source_ip), not report


def _refused_address(item: TokenModel, role: str, method_arn: str, source_ip: str | None) -> dict[str, Any]:
    """A Deny of every route for this token from this address (API Gateway caches it per token and
    address), saying why in the context, and nothing about the list nor the token's owner or scopes
    (a downstream API's 403 template may render the context to whoever holds the token)."""
    known = source_ip if address_match.caller(source_ip) is not None else UNKNOWN_ADDRESS
    return {
        "principalId": item.integration_id,
        "policyDocument": stored_policy.document(method_arn, (), ()),
        # The integration and which of its tokens: the access log counts the 403 for it (usage).
        "context": {
            "integrationId": item.integration_id,
            "tokenRole": role,
            REFUSAL: "address",
            SOURCE_IP: str(known),
        },
    }


def _decide(
    authorization: str | None, method_arn: str, source_ip: str | None
) -> tuple[dict[str, Any], bool, bool]:
    """(the policy and context, whether lastUsedAt was written, whether the policy was planned now), or
    Unauthorized saying why."""
    token = _bearer(authorization)
    if not token_text.is_well_formed(token):
        raise Unauthorized(emf.DENY_MALFORMED)  # no database read for a malformed token or checksum
    try:
        item = TokenModel.get(token_text.digest(token), consistent_read=True)
    except TokenModel.DoesNotExist:
        raise Unauthorized from None
    except Exception as error:
        log.error("token lookup failed: %s", type(error).__name__)
        raise AuthorizerUnavailable("token store unavailable") from None
    now = clock.now()
    if item.state not in LIVE_STATES or (item.expires_at is not None and item.expires_at <= now):
        # Revoked, or rotated out and past its overlap (TTL deletion may lag 48h).
        raise Unauthorized(emf.DENY_REVOKED_OR_EXPIRED)
    scopes = frozenset(str(scope) for scope in item.scopes or [])
    role = "previous" if item.state == TokenState.ROTATING else "current"
    outside, enforced = _outside_allowlist(item, source_ip)
    if outside and enforced:
        return _refused_address(item, role, method_arn, source_ip), False, False  # not a use
    wrote = _touch_last_used(item, int(now.timestamp()))
    burst = None if item.burst_limit is None else int(item.burst_limit)
    caller = TokenContext(
        item.integration_id, item.owner_type, item.owner_id, item.agency_id, scopes, role, burst
    )
    # A location token's policy names its own location wherever a route has `:locationId`.
    own_location = item.owner_id if item.owner_type == OwnerType.LOCATION else None
    (allow, deny), planned = _globs(item, scopes, own_location)
    answer = {
        "principalId": item.integration_id,
        "policyDocument": stored_policy.document(method_arn, allow, deny),
        "context": {**caller.encode(), OUTSIDE_ALLOWLIST: "true" if outside else "false"},
    }
    return answer, wrote, planned
