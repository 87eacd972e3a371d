"""The integration as the management API shows it (SPEC "An integration in responses")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.core import clock
from chalicelib.core.vocabulary import Owner
from chalicelib.integrations import rate_limits
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import allowlist
from chalicelib.tokens.models import TokenModel, rotation_recommended_at


def rotation_recommended(token_created_at: datetime) -> bool:
    return clock.now() >= rotation_recommended_at(token_created_at)


def rotation_pending(integration: IntegrationModel, now: datetime) -> bool:
    """A previous token still in its overlap. An overlap that has ended is a finished rotation, in every
    action and view, whether or not the cleanup has removed it yet."""
    expires = integration.rotation_expires_at
    return integration.previous_token_hash is not None and (expires is None or expires > now)


def live_hashes(integration: IntegrationModel) -> list[str]:
    return [h for h in (integration.token_hash, integration.previous_token_hash) if h]


def last_used(integrations: list[IntegrationModel]) -> dict[str, int]:
    """lastUsedAt (epoch seconds) per token digest, by one BatchGetItem over every token of the page.

    Actions read it before they commit, so an answer never needs a read after the commit.
    """
    hashes = [h for integration in integrations for h in live_hashes(integration)]
    found: dict[str, int] = {}
    if hashes:
        for token in TokenModel.batch_get(hashes, attributes_to_get=["tokenHash", "lastUsedAt"]):
            if token.last_used_at is not None:
                found[token.token_hash] = int(token.last_used_at)
    return found


def views(integrations: list[IntegrationModel]) -> list[dict[str, Any]]:
    used = last_used(integrations)
    return [view(integration, used) for integration in integrations]


def view(integration: IntegrationModel, last_used_by_hash: dict[str, int] | None = None) -> dict[str, Any]:
    now = clock.now()
    rotation = None
    if rotation_pending(integration, now):
        rotation = {
            "previousTokenHint": integration.previous_token_hint,
            "startedAt": clock.iso(integration.rotation_started_at),
            "expiresAt": clock.iso(integration.rotation_expires_at),
        }
    live = integration.token_hash, *((integration.previous_token_hash,) if rotation else ())
    known = last_used_by_hash or {}
    used = [known[h] for h in live if h in known]
    lowered = None if integration.burst_limit is None else int(integration.burst_limit)
    last_used_at = clock.iso(datetime.fromtimestamp(max(used), tz=UTC)) if used else None
    return {
        "id": integration.id,
        "name": integration.name,
        "description": integration.description or "",
        "scopes": list(integration.scopes),
        "ownerType": integration.owner_type,
        "ownerId": integration.owner_id,
        "agencyId": integration.agency_id,
        "createdAt": clock.iso(integration.created_at),
        "createdBy": integration.created_by,
        "updatedAt": clock.iso(integration.updated_at),
        "token": {
            "hint": integration.token_hint,
            "createdAt": clock.iso(integration.token_created_at),
            "expiresAt": clock.iso(integration.token_expires_at),
        },
        "rotation": rotation,
        "lastUsedAt": last_used_at,
        "rotationRecommended": rotation_recommended(integration.token_created_at),
        "revocation": revocation(integration),
        "burstLimit": lowered,
        "rateLimits": rate_limits.settings_view(lowered),
        "allowedIps": [str(entry) for entry in integration.allowed_ips or []],
        "ipRestriction": integration.ip_restriction or allowlist.ENFORCE,
    }


def revocation(integration: IntegrationModel) -> dict[str, Any] | None:
    """Why the current token no longer works (it leaked), or None: a rotate issues a new one."""
    if integration.revoked_reason is None:
        return None
    return {
        "reason": integration.revoked_reason,
        "at": clock.iso(integration.revoked_at),
        "tokenHint": integration.token_hint,
        "url": integration.leak_url,
        "source": integration.leak_source,
    }


def list_for(owner: Owner) -> list[dict[str, Any]]:
    found = list(IntegrationModel.by_owner.query(owner.key, scan_index_forward=False))
    return views(found)

