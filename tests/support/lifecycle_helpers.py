"""Shared by the lifecycle tests: issuing tokens, asking the authorizer, checking table invariants."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from chalicelib.core import clock
from chalicelib.directory.models import AgencyModel, LocationModel
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import allowlist, authorizer, token_text
from chalicelib.tokens.models import TokenModel
from tests.support.faults import install
from tests.support.world import Api

ARN = "arn:aws:execute-api:us-east-1:123456789012:api0000001/api/GET/contacts/x1"
SCOPES = ["contacts.readonly", "locations.readonly"]


class Issued(NamedTuple):
    integration_id: str
    token: str


def create(api: Api, scopes: list[str] | None = None, owner: str = "locations/loc1") -> Issued:
    """A new integration through the API (201 asserted): its id and its token, shown this once."""
    response = api.post(f"/{owner}/private-integrations", {"name": "app", "scopes": scopes or SCOPES})
    assert response.status_code == 201, response.body
    return Issued(response.json_body["privateIntegration"]["id"], response.json_body["token"])


def authorizes(token: str) -> bool:
    try:
        authorizer.authorize(f"Bearer {token}", ARN)
    except authorizer.Unauthorized:
        return False
    return True


def rotate(api: Api, integration_id: str, expire: str) -> Any:
    return api.post(f"/private-integrations/{integration_id}/rotate", {"expire": expire})


def cancel(api: Api, integration_id: str) -> Any:
    return api.post(f"/private-integrations/{integration_id}/rotation/cancel", {})


def expire_now(api: Api, integration_id: str) -> Any:
    return api.post(f"/private-integrations/{integration_id}/rotation/expire-now", {})


def _packed_allowlist(integration: IntegrationModel) -> bytes | None:
    """What every live token item of the integration must carry: its IP allowlist, packed."""
    mode = integration.ip_restriction or allowlist.ENFORCE
    return allowlist.pack(mode, [str(entry) for entry in integration.allowed_ips or []])


def assert_consistent() -> None:
    """Invariants of the tables, whatever happened: no orphan, no third live token, no disagreement."""
    integrations = {i.id: i for i in IntegrationModel.scan(consistent_read=True)}
    token_items = {t.token_hash: t for t in TokenModel.scan(consistent_read=True)}
    referenced: set[str] = set()
    for integration in integrations.values():
        current = token_items.get(integration.token_hash)
        referenced.add(integration.token_hash)
        chosen = integration.token_expires_at
        ended = chosen is not None and chosen <= clock.now()
        leaked = integration.revoked_reason is not None
        # Past its chosen expiry the item may be gone (TTL) and edits no longer touch it; a leaked
        # current token's item stays, revoked and without expiry, until a rotate (GitHub's retries).
        assert current is not None or (ended and not leaked), "current token item missing"
        if current is not None:
            if leaked:
                assert current.state == "revoked" and current.expires_at is None
            else:
                assert current.state == "active" and current.expires_at == chosen
            assert (current.revoked_reason is None) == (not leaked)
            assert current.integration_id == integration.id
            assert ended or current.scopes == integration.scopes
            assert ended or current.allowlist == _packed_allowlist(integration)
            assert ended or current.burst_limit == (integration.burst_limit or 0)
        if integration.previous_token_hash:
            previous = token_items.get(integration.previous_token_hash)
            assert previous is not None, "rotating token item missing"
            assert previous.state == "rotating"
            assert previous.expires_at == integration.rotation_expires_at
            assert previous.scopes == integration.scopes
            assert previous.allowlist == _packed_allowlist(integration)
            assert previous.burst_limit == (integration.burst_limit or 0)
            referenced.add(integration.previous_token_hash)
        else:
            assert integration.rotation_expires_at is None and integration.rotation_started_at is None
    # A leaked token that was rotating out is kept revoked (GitHub's retries) until TTL at its overlap's end.
    orphans = {
        token_hash
        for token_hash in set(token_items) - referenced
        if token_items[token_hash].state != "revoked" or token_items[token_hash].expires_at is None
    }
    assert not orphans, f"orphan token items: {len(orphans)}"
    by_owner: dict[str, int] = {}
    for integration in integrations.values():
        by_owner[integration.owner_key] = by_owner.get(integration.owner_key, 0) + 1
    for location in LocationModel.scan():
        assert (location.integration_count or 0) == by_owner.get(f"location#{location.id}", 0)
    for agency in AgencyModel.scan():
        assert (agency.integration_count or 0) == by_owner.get(f"agency#{agency.id}", 0)


def digest(token: str) -> str:
    return token_text.digest(token)


def race(monkeypatch: pytest.MonkeyPatch, competitor: Any) -> None:
    """Run `competitor` after the next action has read its state, just before it commits."""
    install(monkeypatch).before("dynamodb.TransactWriteItems", competitor)
