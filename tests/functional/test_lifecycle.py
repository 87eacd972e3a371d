"""Every row of SPEC's lifecycle table through the API, with a controllable clock."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import DoesNotExist

from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens.models import TokenModel
from tests.support.lifecycle_helpers import (
    assert_consistent,
    authorizes,
    cancel,
    create,
    digest,
    expire_now,
    race,
    rotate,
)
from tests.support.world import Api, FakeClock

# The engine's behaviour matters here: these run on moto and on DynamoDB Local (tests/support/engines.py).
pytestmark = pytest.mark.engines


def test_rotate_later_keeps_both_tokens_for_the_overlap(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, old = create(api)
    frozen_clock.advance(hours=1)
    response = rotate(api, integration_id, "later")
    assert response.status_code == 200
    new = response.json_body["token"]
    view = response.json_body["privateIntegration"]
    assert new != old and view["token"]["hint"] == "pit-…" + new[-4:]
    assert view["rotation"] == {
        "previousTokenHint": "pit-…" + old[-4:],
        "startedAt": "2026-01-15T13:00:00.000Z",
        "expiresAt": "2026-01-22T13:00:00.000Z",
    }
    assert authorizes(old) and authorizes(new)
    assert new not in api.get(f"/private-integrations/{integration_id}").body.decode()
    again = rotate(api, integration_id, "later")
    assert again.status_code == 409 and "pending" in again.json_body["message"]
    assert_consistent()

    frozen_clock.advance(days=7, seconds=-1)
    assert authorizes(old)
    frozen_clock.advance(seconds=1)
    # Past the overlap: denied at once, although TTL has not deleted the item.
    assert TokenModel.get(digest(old)).expires_at is not None
    assert not authorizes(old) and authorizes(new)


def test_cancel_restores_the_old_token_and_revokes_the_new(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    response = cancel(api, integration_id)
    assert response.status_code == 200
    view = response.json_body["privateIntegration"]
    assert view["rotation"] is None and view["token"]["hint"] == "pit-…" + old[-4:]
    assert "token" not in response.json_body
    assert authorizes(old) and not authorizes(new)
    frozen_clock.advance(days=30)
    assert authorizes(old)  # no expiry any more
    assert cancel(api, integration_id).status_code == 409
    assert_consistent()


def test_cancel_after_the_overlap_is_refused(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, old = create(api)
    rotate(api, integration_id, "later")
    frozen_clock.advance(days=8)
    response = cancel(api, integration_id)
    assert response.status_code == 409 and "expired" in response.json_body["message"]
    assert not authorizes(old)


def test_expire_now_ends_the_overlap(api: Api) -> None:
    integration_id, old = create(api)
    assert expire_now(api, integration_id).status_code == 409
    new = rotate(api, integration_id, "later").json_body["token"]
    response = expire_now(api, integration_id)
    assert response.status_code == 200 and response.json_body["privateIntegration"]["rotation"] is None
    assert not authorizes(old) and authorizes(new)
    with pytest.raises(DoesNotExist):
        TokenModel.get(digest(old))
    assert expire_now(api, integration_id).status_code == 409
    assert_consistent()


def test_rotate_now_revokes_every_earlier_token(api: Api) -> None:
    integration_id, first = create(api)
    second = rotate(api, integration_id, "later").json_body["token"]
    response = rotate(api, integration_id, "now")
    assert response.status_code == 200
    third = response.json_body["token"]
    assert response.json_body["privateIntegration"]["rotation"] is None
    assert not authorizes(first) and not authorizes(second) and authorizes(third)
    fourth = rotate(api, integration_id, "now").json_body["token"]
    assert not authorizes(third) and authorizes(fourth)
    assert_consistent()


def test_rotate_body_is_validated(api: Api) -> None:
    integration_id, _ = create(api)
    for body, status in [({}, 422), ({"expire": "tomorrow"}, 422), ({"expire": "now", "x": 1}, 422)]:
        assert rotate(api, integration_id, "x").status_code == 422
        response = api.post(f"/private-integrations/{integration_id}/rotate", body)
        assert response.status_code == status
    assert api.post(f"/private-integrations/{integration_id}/rotate", [1]).status_code == 400
    assert api.post("/private-integrations/nope/rotate", {"expire": "now"}).status_code == 404
    assert (
        api.post(
            f"/private-integrations/{integration_id}/rotate", {"expire": "now"}, user="staff"
        ).status_code
        == 403
    )
    assert (
        api.post(
            f"/private-integrations/{integration_id}/rotate", {"expire": "now"}, user="admin2"
        ).status_code
        == 404
    )


def test_edit_during_rotation_reaches_both_tokens(api: Api) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    api.patch(f"/private-integrations/{integration_id}", {"scopes": ["contacts.write"]})
    assert TokenModel.get(digest(old)).scopes == TokenModel.get(digest(new)).scopes == ["contacts.write"]
    assert_consistent()


def test_delete_during_rotation_revokes_both(api: Api) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    assert api.delete(f"/private-integrations/{integration_id}").status_code == 204
    assert not authorizes(old) and not authorizes(new)
    assert TokenModel.count() == 0
    assert_consistent()


def test_every_action_is_audited(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, _ = create(api)
    for step in [
        lambda: rotate(api, integration_id, "later"),
        lambda: cancel(api, integration_id),
        lambda: rotate(api, integration_id, "later"),
        lambda: expire_now(api, integration_id),
        lambda: rotate(api, integration_id, "now"),
    ]:
        frozen_clock.advance(seconds=1)
        assert step().status_code == 200
    events = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    assert [e["type"] for e in events] == [
        "token.rotated",
        "rotation.expired_now",
        "token.rotated",
        "rotation.cancelled",
        "token.rotated",
        "integration.created",
    ]
    assert events[0]["details"]["expire"] == "now" and events[2]["details"]["expire"] == "later"
    assert "expiresAt" in events[2]["details"]
    assert all(
        len(hint) == len("pit-…") + 4 for e in events for k, hint in e["details"].items() if "Hint" in k
    )


def test_rotation_recommended_after_90_days(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, _ = create(api)
    frozen_clock.advance(days=89, hours=23)
    assert (
        api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"][
            "rotationRecommended"
        ]
        is False
    )
    frozen_clock.advance(hours=1)
    assert (
        api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"][
            "rotationRecommended"
        ]
        is True
    )
    rotate(api, integration_id, "now")
    assert (
        api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"][
            "rotationRecommended"
        ]
        is False
    )


# --- two actions racing at the write step ---------------------------------------------------------


PAIRS = [
    ("rotate later", "rotate later"),
    ("rotate later", "delete"),
    ("delete", "rotate now"),
    ("cancel", "expire now"),
    ("expire now", "cancel"),
    ("edit", "rotate later"),
    ("rotate now", "edit"),
    ("rotate now", "rotate now"),
]


# Deleting, rotating now and expiring now are what a user does when a token leaked: a concurrent
# benign change must not make them fail. They re-read and apply; only a deletion stops them (404).
SECURITY_ACTIONS = ("delete", "rotate now", "expire now")


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_racing_actions_have_one_winner(
    api: Api, monkeypatch: pytest.MonkeyPatch, first: str, second: str
) -> None:
    integration_id, _ = create(api)
    if "cancel" in (first, second) or "expire now" in (first, second):
        rotate(api, integration_id, "later")
    actions = {
        "rotate later": lambda: rotate(api, integration_id, "later"),
        "rotate now": lambda: rotate(api, integration_id, "now"),
        "cancel": lambda: cancel(api, integration_id),
        "expire now": lambda: expire_now(api, integration_id),
        "edit": lambda: api.patch(f"/private-integrations/{integration_id}", {"scopes": ["contacts.write"]}),
        "delete": lambda: api.delete(f"/private-integrations/{integration_id}"),
    }
    results: dict[str, Any] = {}

    def competitor() -> None:
        results["winner"] = actions[second]()

    race(monkeypatch, competitor)
    results["loser"] = actions[first]()
    assert results["winner"].status_code in (200, 204), results["winner"].body
    first_status = results["loser"].status_code
    if second == "delete":
        assert first_status == 404, results["loser"].body
    elif first in SECURITY_ACTIONS and (first, second) != ("expire now", "cancel"):
        assert first_status in (200, 204), results["loser"].body
    else:
        # One winner; expire-now after a cancel finds nothing pending any more.
        assert first_status == 409, results["loser"].body
    assert_consistent()
    live = [t for t in TokenModel.scan() if t.state in ("active", "rotating")]
    assert len(live) <= 2
    if "delete" in (first, second):
        assert IntegrationModel.count() == 0 and TokenModel.count() == 0
