"""A token item as it is issued or re-scoped: everything the authorizer needs, its policy planned now.

Planning (policy.py) runs here, on the write path (create, rotations, edits, the replan script), so the
authorizer, which imports only the model and stored_policy, never plans while a caller waits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.core.vocabulary import Owner, OwnerType, TokenState
from chalicelib.tokens import allowlist, policy, stored_policy, token_text
from chalicelib.tokens.models import TokenModel, due_bucket, next_due, pending_notices


def planned_policy(scopes: list[str], owner_type: str, owner_id: str) -> tuple[bytes, str]:
    """(the stored policy, its version) for a token of this owner holding `scopes`; a location token's
    policy is pinned to its own location."""
    own_location = owner_id if owner_type == OwnerType.LOCATION else None
    return policy.stored(frozenset(scopes), owner_type, own_location), stored_policy.version()


def scope_actions(scopes: list[str], owner_type: str, owner_id: str) -> list[Action]:
    """The update of a live token item whose scopes change: the scopes and their plan together."""
    stored, version = planned_policy(scopes, owner_type, owner_id)
    held: Any = list(scopes)  # PynamoDB types a list's value as its attributes, not their values
    return [
        TokenModel.scopes.set(held),
        TokenModel.policy.set(stored),
        TokenModel.policy_version.set(version),
    ]


def burst_limit_actions(lowered: int | None) -> list[Action]:
    """The update of a live token item whose integration's burst limit changes (None: the default)."""
    return [TokenModel.burst_limit.set(lowered or 0)]


def allowlist_actions(mode: str, entries: list[str]) -> list[Action]:
    """The update of a live token item whose integration's IP allowlist or its mode changes."""
    packed = allowlist.pack(mode, entries)
    return [TokenModel.allowlist.remove() if packed is None else TokenModel.allowlist.set(packed)]


def new_token_item(
    plaintext: str,
    *,
    integration_id: str,
    owner: Owner,
    scopes: list[str],
    created_at: datetime,
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    ip_restriction: str = allowlist.ENFORCE,
    burst_limit: int | None = None,
) -> TokenModel:
    """A current token: carries everything the authorizer needs, so authorizing is one GetItem.
    `expires_at`: the owner's chosen expiry (the TTL attribute: the authorizer denies from then on);
    `allowed_ips` (normalised) and `ip_restriction`: the integration's allowlist, copied; `burst_limit`:
    its lowered burst limit (None: the default), copied."""
    token_hash = token_text.digest(plaintext)
    stored, version = planned_policy(list(scopes), owner.type, owner.id)
    return TokenModel(
        token_hash,
        integration_id=integration_id,
        owner_type=owner.type,
        owner_id=owner.id,
        agency_id=owner.agency_id,
        scopes=list(scopes),
        state=TokenState.ACTIVE,
        hint=token_text.hint(plaintext),
        created_at=created_at,
        expires_at=expires_at,
        due_bucket=due_bucket(token_hash),
        due_at=next_due(pending_notices(created_at, expires_at, False, None)),
        policy=stored,
        policy_version=version,
        allowlist=allowlist.pack(ip_restriction, allowed_ips or []),
        burst_limit=burst_limit or 0,
    )
