"""Emergency: revoke every token of an agency at once (its own and its sub-accounts' integrations).

For a compromised agency (a leaked admin session, a leaked secret store). Each integration is deleted
the way a user deletes it (integrations/service.py: one idempotent transaction with its audit event,
retried until it applies), marked `emergency` with the operator's reason, and the authorizer caches
are flushed once at the end, so every token is refused on its next request. New tokens are issued by
creating integrations again; the deleted ones' names and scopes stay in their events.

A run that meets an unavailable database keeps going with the other integrations, then answers 503
saying how many were revoked: calling it again revokes the rest (what is gone stays gone).
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.core import db
from chalicelib.core.errors import NotFound, ServiceUnavailable, ValidationFailed
from chalicelib.core.vocabulary import Owner, OwnerType
from chalicelib.directory import accounts as directory
from chalicelib.directory import permissions
from chalicelib.directory.models import LocationModel, UserModel
from chalicelib.integrations import service
from chalicelib.integrations.access import Access, owner_of
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import authorizer_cache
from chalicelib.tokens.authorizer_cache import ApiStage

log = logging.getLogger("private_integrations.emergency")
REASON_MAX = 500


def require_admin(user: UserModel, agency_id: str) -> None:
    """Only an agency admin of that agency (404 for another agency), whatever the Labs setting."""
    permissions.require_agency_admin(
        user, agency_id, "Only agency admins can revoke every token of the agency."
    )


def parse_body(body: dict[str, Any]) -> str:
    """The reason the audit records: {"reason": "<1-500 characters>"}."""
    problems = [f"'{key}' is not allowed (allowed: reason)" for key in body if key != "reason"]
    reason = body.get("reason")
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= REASON_MAX:
        problems.append(f"reason is required: why every token is revoked, 1 to {REASON_MAX} characters")
    if problems:
        raise ValidationFailed(problems)
    return str(reason).strip()


def agency_integrations(agency_id: str) -> list[IntegrationModel]:
    """Every integration of the agency: its own, then each sub-account's."""
    owners = [Owner(OwnerType.AGENCY, agency_id, agency_id)] + [
        Owner(OwnerType.LOCATION, location.id, agency_id)
        for location in LocationModel.by_agency.query(agency_id)
    ]
    return [found for owner in owners for found in IntegrationModel.by_owner.query(owner.key)]


def revoke_all(
    actor_id: str, agency_id: str, reason: str, *, own_api: ApiStage | None = None
) -> dict[str, Any]:
    """Delete every integration of the agency (audited), then flush the authorizer caches."""
    directory.get_agency(agency_id)  # 404 for an agency that does not exist
    found = agency_integrations(agency_id)
    details = {"emergency": True, "reason": reason}
    revoked, failed = 0, 0
    for integration in found:
        target = Access(integration, owner_of(integration))
        try:
            service.delete_recorded(actor_id, target, details)
            revoked += 1
        except NotFound:
            revoked += 1  # deleted meanwhile: its tokens are gone too
        except Exception as error:
            if not db.is_unavailable(error):
                raise
            failed += 1
            log.warning("emergency revoke: %s not revoked yet: %s", integration.id, type(error).__name__)
    if revoked:
        authorizer_cache.flush(own_api)
    log.warning(
        "emergency revoke-all agency=%s actor=%s revoked=%d failed=%d", agency_id, actor_id, revoked, failed
    )
    if failed:
        raise ServiceUnavailable(
            f"The database is busy or unreachable: {revoked} of {len(found)} private integrations were "
            "revoked. Call again to revoke the rest."
        )
    return {"agencyId": agency_id, "revokedIntegrations": revoked}
