"""SPEC's "who may do what", cell by cell, and session checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest

from chalicelib.directory import sessions
from tests.support.world import Api, FakeClock

OWNERS = {"agency": "agencies/ag1", "loc1": "locations/loc1", "loc2": "locations/loc2"}
BODIES = {
    "agency": {"name": "A", "scopes": ["locations.readonly"]},
    "loc1": {"name": "L1", "scopes": ["contacts.readonly"]},
    "loc2": {"name": "L2", "scopes": ["contacts.readonly"]},
}
OK, FORBIDDEN, NOT_FOUND = 200, 403, 404
MATRIX = {
    #               agency     loc1       loc2
    "admin":        (OK,        OK,        OK),
    "staff_flags":  (OK,        OK,        OK),
    "staff":        (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "account_flag": (FORBIDDEN, OK,        FORBIDDEN),
    "account":      (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "admin2":       (NOT_FOUND, NOT_FOUND, NOT_FOUND),
}  # fmt: skip


def _expect(response: Any, status: int, success: int = 200) -> None:
    wanted = success if status == OK else status
    assert response.status_code == wanted, response.body
    if status == FORBIDDEN:
        assert "permission" in response.json_body["message"]


@pytest.fixture
def existing(api: Api) -> dict[str, str]:
    return {
        key: api.post(f"/{path}/private-integrations", BODIES[key]).json_body["privateIntegration"]["id"]
        for key, path in OWNERS.items()
    }


@pytest.mark.parametrize("user", list(MATRIX))
def test_integration_routes_follow_the_matrix(api: Api, existing: dict[str, str], user: str) -> None:
    for column, key in enumerate(OWNERS):
        status = MATRIX[user][column]
        path, integration_id = OWNERS[key], existing[key]
        _expect(api.get(f"/{path}/private-integrations", user=user), status)
        _expect(api.get(f"/{path}/private-integrations/events", user=user), status)
        _expect(api.post(f"/{path}/private-integrations", BODIES[key], user=user), status, 201)
        _expect(api.get(f"/private-integrations/{integration_id}", user=user), status)
        _expect(api.get(f"/private-integrations/{integration_id}/events", user=user), status)
        _expect(api.patch(f"/private-integrations/{integration_id}", {"name": "x"}, user=user), status)
        _expect(api.delete(f"/private-integrations/{integration_id}", user=user), status, 204)


def test_other_agency_gets_the_same_404_as_a_missing_id(api: Api, existing: dict[str, str]) -> None:
    theirs = api.get(f"/private-integrations/{existing['loc1']}", user="admin2").json_body
    missing = api.get("/private-integrations/000000000000000000000000", user="admin2").json_body
    assert theirs["statusCode"] == missing["statusCode"] == 404
    assert theirs["message"].replace(existing["loc1"], "ID") == missing["message"].replace(
        "000000000000000000000000", "ID"
    )
    assert api.get("/locations/loc1/private-integrations", user="admin2").json_body["message"] == (
        "Location 'loc1' was not found."
    )


def test_labs_off_blocks_management_but_not_the_switch(api: Api, existing: dict[str, str]) -> None:
    body = api.get("/locations/loc3/private-integrations", user="admin3").json_body
    assert body["statusCode"] == 403 and "Labs" in body["message"] and "enable" in body["message"]
    assert api.put("/agencies/ag3/labs", {"privateIntegrations": True}, user="admin3").status_code == 200
    assert api.get("/locations/loc3/private-integrations", user="admin3").status_code == 200

    assert api.put("/agencies/ag1/labs", {"privateIntegrations": False}).status_code == 200
    for response in [
        api.get("/agencies/ag1/private-integrations"),
        api.post("/locations/loc1/private-integrations", BODIES["loc1"]),
        api.get(f"/private-integrations/{existing['loc1']}"),
        api.patch(f"/private-integrations/{existing['loc1']}", {"name": "x"}),
        api.delete(f"/private-integrations/{existing['loc1']}"),
    ]:
        assert response.status_code == 403 and "Labs" in response.json_body["message"]
    assert api.get("/me").json_body["labs"] == {"privateIntegrations": False}
    assert api.get("/agencies/ag1/labs", user="staff").json_body == {"privateIntegrations": False}
    # Labs off does not hide another agency's things any less: still 404.
    assert api.get("/agencies/ag1/private-integrations", user="admin2").status_code == 404


def test_only_agency_admins_change_flags_and_labs(api: Api) -> None:
    grant = {"privateIntegrations": {"agency": True, "subAccount": True}}
    for user in ["staff_flags", "staff", "account", "account_flag"]:
        assert api.put("/agencies/ag1/users/staff/permissions", grant, user=user).status_code == 403
        assert api.put("/agencies/ag1/labs", {"privateIntegrations": False}, user=user).status_code == 403
    assert api.put("/agencies/ag1/users/staff/permissions", grant, user="admin2").status_code == 404
    assert api.put("/agencies/ag1/labs", {"privateIntegrations": False}, user="admin2").status_code == 404
    assert api.get("/agencies/ag1/labs", user="admin2").status_code == 404


def test_viewing_permissions(api: Api) -> None:
    assert api.get("/agencies/ag1/users/staff/permissions", user="staff").json_body == {
        "userId": "staff",
        "privateIntegrations": {"agency": False, "subAccount": False},
    }
    assert api.get("/agencies/ag1/users/admin/permissions", user="staff").status_code == 403
    assert api.get("/agencies/ag1/users/account_flag/permissions").json_body["privateIntegrations"] == {
        "agency": False,
        "subAccount": True,
    }
    assert api.get("/agencies/ag1/users/admin2/permissions").status_code == 404
    assert api.get("/agencies/ag2/users/admin2/permissions").status_code == 404


def test_flags_take_effect_at_once(api: Api, existing: dict[str, str]) -> None:
    assert api.get("/locations/loc1/private-integrations", user="staff").status_code == 403
    api.put("/agencies/ag1/users/staff/permissions", {"privateIntegrations": {"subAccount": True}})
    assert api.get("/locations/loc1/private-integrations", user="staff").status_code == 200
    assert api.get("/agencies/ag1/private-integrations", user="staff").status_code == 403
    # An admin's defaults can be switched off too.
    api.put("/agencies/ag1/users/admin/permissions", {"privateIntegrations": {"agency": False}})
    assert api.get("/agencies/ag1/private-integrations").status_code == 403
    assert api.get("/locations/loc1/private-integrations").status_code == 200


def test_permission_body_validation(api: Api) -> None:
    cases = [
        ({}, ["privateIntegrations is required: an object with 'agency' and/or 'subAccount' booleans"]),
        ({"privateIntegrations": {"agency": "yes"}}, ["privateIntegrations.agency must be true or false"]),
        (
            {"privateIntegrations": {"subAccount": True, "admin": True}, "x": 1},
            [
                "'x' is not allowed in the body (allowed: privateIntegrations)",
                "'admin' is not allowed in privateIntegrations (allowed: agency, subAccount)",
            ],
        ),
    ]
    for body, problems in cases:
        response = api.put("/agencies/ag1/users/staff/permissions", body)
        assert response.status_code == 422 and response.json_body["message"] == problems
    response = api.put("/agencies/ag1/users/account/permissions", {"privateIntegrations": {"agency": True}})
    assert response.json_body["message"] == [
        "privateIntegrations.agency cannot be granted to a sub-account (account) user"
    ]
    assert api.put("/agencies/ag1/labs", {"privateIntegrations": "on"}).status_code == 422
    assert api.put("/agencies/ag1/labs", [True]).status_code == 400


def _session_error(api: Api, authorization: str | None) -> dict[str, Any]:
    headers = {"Version": "2021-07-28"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = api.client.http.get("/me", headers=headers)
    assert response.status_code == 401, response.body
    return response.json_body


def test_sessions_are_checked(api: Api, frozen_clock: FakeClock) -> None:
    secret = sessions.session_secret()
    now = int(frozen_clock.current.timestamp())
    assert "session token" in _session_error(api, None)["message"]
    assert _session_error(api, "Basic abc")["statusCode"] == 401
    assert _session_error(api, "Bearer")["statusCode"] == 401
    assert "Private Integration tokens" in _session_error(api, "Bearer pit-" + "a" * 49)["message"]
    assert _session_error(api, "Bearer not.a.jwt")["statusCode"] == 401
    wrong_secret = jwt.encode(
        {"sub": "admin", "iat": now, "exp": now + 60}, "another-secret", algorithm="HS256"
    )
    assert _session_error(api, f"Bearer {wrong_secret}")["statusCode"] == 401
    no_exp = jwt.encode({"sub": "admin"}, secret, algorithm="HS256")
    assert _session_error(api, f"Bearer {no_exp}")["statusCode"] == 401
    no_sub = jwt.encode({"iat": now, "exp": now + 60}, secret, algorithm="HS256")
    assert _session_error(api, f"Bearer {no_sub}")["statusCode"] == 401
    ghost = jwt.encode({"sub": "ghost", "iat": now, "exp": now + 60}, secret, algorithm="HS256")
    assert "does not exist" in _session_error(api, f"Bearer {ghost}")["message"]
    unsigned = jwt.encode({"sub": "admin", "iat": now, "exp": now + 60}, "", algorithm="none")
    assert _session_error(api, f"Bearer {unsigned}")["statusCode"] == 401
    hs512 = jwt.encode({"sub": "admin", "iat": now, "exp": now + 60}, secret, algorithm="HS512")
    assert _session_error(api, f"Bearer {hs512}")["statusCode"] == 401

    session = sessions.mint("admin", ttl=timedelta(minutes=10))
    good = {"Authorization": f"Bearer {session}", "Version": "2021-07-28"}
    assert api.client.http.get("/me", headers=good).status_code == 200
    frozen_clock.advance(minutes=10)
    assert "expired" in _session_error(api, f"Bearer {session}")["message"]


def test_deployed_stages_read_the_secret_from_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    from chalicelib.core import config

    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="private-integrations/dev/session-secret", SecretString="s" * 64
        )
        deployed = config.settings._replace(
            stage="dev", session_secret=None, session_secret_id="private-integrations/dev/session-secret"
        )
        monkeypatch.setattr(config, "settings", deployed)
        sessions.session_secret.cache_clear()
        try:
            assert sessions.session_secret() == "s" * 64
            monkeypatch.setattr(config, "settings", deployed._replace(session_secret_id=None))
            sessions.session_secret.cache_clear()
            with pytest.raises(RuntimeError):
                sessions.session_secret()  # a deployed stage never falls back to the local secret
        finally:
            sessions.session_secret.cache_clear()


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        ({"exp": 253402300799}, "lasts longer than 12 hours"),
        ({"exp": 2**63}, "lasts longer than 12 hours"),
        ({"exp": 1e30}, "lasts longer than 12 hours"),
        ({"exp": 1e308}, "lasts longer than 12 hours"),
        ({"iat_ahead": 10**8}, "issued in the future"),
        ({"iat_ahead": 61}, "issued in the future"),
        ({"iat": None}, "invalid"),
        ({"exp_after_iat": 12 * 3600 + 1}, "lasts longer than 12 hours"),
    ],
)
def test_session_lifetime_is_capped_and_iat_cannot_be_in_the_future(
    api: Api, frozen_clock: FakeClock, claims: dict[str, Any], said: str
) -> None:
    now = int(frozen_clock.current.timestamp())
    payload: dict[str, Any] = {"sub": "admin", "iat": now, "exp": now + 3600}
    if "iat_ahead" in claims:
        payload["iat"] = now + claims["iat_ahead"]
        payload["exp"] = payload["iat"] + 3600
    elif "exp_after_iat" in claims:
        payload["exp"] = now + claims["exp_after_iat"]
    elif claims.get("iat", 0) is None:
        del payload["iat"]
    else:
        payload.update(claims)
    token = jwt.encode(payload, sessions.session_secret(), algorithm="HS256")
    error = _session_error(api, f"Bearer {token}")
    assert error["statusCode"] == 401 and said in error["message"], error


def test_a_session_of_exactly_the_maximum_lifetime_within_the_skew_is_accepted(
    api: Api, frozen_clock: FakeClock
) -> None:
    now = int(frozen_clock.current.timestamp())
    for iat in (now, now + 60, now - 3600):
        token = jwt.encode(
            {"sub": "admin", "iat": iat, "exp": iat + 12 * 3600}, sessions.session_secret(), "HS256"
        )
        headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
        assert api.client.http.get("/me", headers=headers).status_code == 200
