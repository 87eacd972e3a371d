"""Input an attacker would send: every answer is a 4xx in SPEC's shape that says what to fix, never a 5xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.directory import sessions
from chalicelib.http import web
from chalicelib.tokens import catalog
from chalicelib.v2 import contact_fields, contact_search, contact_store, contacts
from tests.support.v2_client import TokenClient, token_for
from tests.support.world import VERSION, Api, FakeClock

LOCATION_BODY = {"name": "app", "scopes": ["contacts.readonly"]}


def spec_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body = json.loads(response.body)
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == status
    return body


def created(api: Api) -> str:
    response = api.post("/locations/loc1/private-integrations", LOCATION_BODY)
    assert response.status_code == 201
    return str(response.json_body["privateIntegration"]["id"])


# --- ?limit= -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["²", "\uff11", "\u0663", "1e3", "-1", " 5", "99999999999999999999999"])
def test_limit_with_unicode_digits_or_junk_is_422_on_every_paged_route(api: Api, limit: str) -> None:
    integration_id = created(api)
    token = token_for(api)
    for response in (
        api.get(f"/private-integrations/{integration_id}/events?limit={limit}"),
        api.get(f"/locations/loc1/private-integrations/events?limit={limit}"),
        api.get(f"/agencies/ag1/private-integrations/events?limit={limit}"),
        TokenClient(api, token)("GET", f"/contacts?locationId=loc1&limit={limit}"),
    ):
        assert "limit" in str(spec_error(response, 422)["message"])


# --- bodies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[" * 60_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000])
def test_deeply_nested_json_is_400_not_a_recursion_error(api: Api, raw: bytes) -> None:
    assert len(raw) < 64 * 1024
    integration_id = created(api)
    token = token_for(api)
    for response in (
        api.request("POST", "/locations/loc1/private-integrations", raw=raw),
        api.request("PATCH", f"/private-integrations/{integration_id}", raw=raw),
        api.client.http.post(
            "/contacts",
            headers={**VERSION, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=raw,
        ),
    ):
        body = spec_error(response, 400)
        assert "nested" in body["message"] or "JSON" in body["message"]


def test_nesting_just_past_the_limit_is_400_and_says_so(api: Api) -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"d": deep}
    response = api.post("/locations/loc1/private-integrations", {**LOCATION_BODY, "description": deep})
    assert "nested deeper than 32 levels" in spec_error(response, 400)["message"]


def test_a_lone_surrogate_is_422_naming_the_field_on_create_patch_and_contacts(api: Api) -> None:
    lone = b'"\\ud800"'
    raw = b'{"name": ' + lone + b', "scopes": ["contacts.readonly"]}'
    body = spec_error(api.request("POST", "/locations/loc1/private-integrations", raw=raw), 422)
    assert body["message"] == ["name: holds a lone surrogate (invalid Unicode): send valid text"]
    integration_id = created(api)
    raw = b'{"description": "ok ' + b"\\udc00" + b'"}'
    body = spec_error(api.request("PATCH", f"/private-integrations/{integration_id}", raw=raw), 422)
    assert body["message"] == ["description: holds a lone surrogate (invalid Unicode): send valid text"]
    token = token_for(api, scopes=["contacts.write"])
    response = api.client.http.post(
        "/contacts",
        headers={**VERSION, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=b'{"locationId": "loc1", "tags": ["a", "\\ud83d"]}',
    )
    assert spec_error(response, 422)["message"] == [
        "tags[1]: holds a lone surrogate (invalid Unicode): send valid text"
    ]
    # A proper pair (an emoji) is fine.
    raw = b'{"name": "app \\ud83d\\ude00", "scopes": ["contacts.readonly"]}'
    assert api.request("POST", "/locations/loc1/private-integrations", raw=raw).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "bad\x00name"),
        ("name", "tab\tname"),
        ("name", "\u202eevil"),
        ("name", "c1\x85"),
        ("name", "del\x7f"),
        ("description", "bell\x07"),
        ("description", "\u2066isolate"),
        ("description", "cr\r"),
    ],
)
def test_control_characters_and_bidi_overrides_are_422(api: Api, field: str, value: str) -> None:
    body = spec_error(api.post("/locations/loc1/private-integrations", {**LOCATION_BODY, field: value}), 422)
    assert any(m.startswith(field) and "U+" in m for m in body["message"])
    integration_id = created(api)
    spec_error(api.patch(f"/private-integrations/{integration_id}", {field: value}), 422)


def test_tab_and_newline_are_fine_in_a_description(api: Api) -> None:
    response = api.post(
        "/locations/loc1/private-integrations", {**LOCATION_BODY, "description": "line one\n\tline two"}
    )
    assert response.status_code == 201
    assert response.json_body["privateIntegration"]["description"] == "line one\n\tline two"


# --- session JWTs ------------------------------------------------------------------------------------


def signed(payload: bytes) -> str:
    """An HS256 JWT over a raw JSON payload (to send NaN, Infinity and 1e400, which JSON parsers take)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload)
    signature = hmac.new(sessions.session_secret().encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


@pytest.mark.parametrize(
    "claims",
    [
        b'{"sub": "admin", "exp": NaN}',
        b'{"sub": "admin", "exp": Infinity}',
        b'{"sub": "admin", "exp": 1e400}',
        b'{"sub": "admin", "exp": "9999999999"}',
        b'{"sub": "admin", "exp": true}',
        b'{"sub": "admin", "exp": 4102444800, "nbf": NaN}',
        b'{"sub": "admin", "exp": 4102444800, "iat": Infinity}',
        b'{"sub": "admin", "exp": 4102444800, "nbf": 4102444000}',
    ],
)
def test_session_tokens_with_non_finite_or_future_times_are_401(api: Api, claims: bytes) -> None:
    response = api.client.http.get("/me", headers={**VERSION, "Authorization": f"Bearer {signed(claims)}"})
    spec_error(response, 401)


def test_a_finite_session_token_still_follows_the_test_clock(api: Api, frozen_clock: FakeClock) -> None:
    now = int(frozen_clock.current.timestamp())
    token = signed(b'{"sub": "admin", "iat": %d, "exp": %d}' % (now, now + 60))
    headers = {**VERSION, "Authorization": f"Bearer {token}"}
    assert api.client.http.get("/me", headers=headers).status_code == 200
    frozen_clock.advance(seconds=61)
    assert "expired" in spec_error(api.client.http.get("/me", headers=headers), 401)["message"]


# --- one 500 -----------------------------------------------------------------------------------------


def test_chalices_own_500_is_ours_with_the_trace_id(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(catalog, "scopes_view", broken)
    response = api.get("/scopes")
    body = spec_error(response, 500)
    assert response.headers["X-Trace-Id"] in body["message"]
    assert "bug" not in body["message"]


# --- caching -----------------------------------------------------------------------------------------


def test_no_response_may_be_cached(api: Api) -> None:
    create = api.post("/locations/loc1/private-integrations", LOCATION_BODY)
    integration_id = create.json_body["privateIntegration"]["id"]
    rotate = api.post(f"/private-integrations/{integration_id}/rotate", {"expire": "later"})
    assert rotate.status_code == 200 and "token" in rotate.json_body
    token = token_for(api)
    for response in (
        create,
        rotate,
        api.get(f"/private-integrations/{integration_id}"),
        api.get("/locations/loc1/private-integrations"),
        api.get("/me"),
        api.get("/private-integrations/nope"),
        TokenClient(api, token)("GET", "/locations/loc1"),
    ):
        assert response.headers.get("Cache-Control") == "no-store", response.status_code


# --- issue 22: input that stalls or 500s --------------------------------------------------------------


class RegexSpy:
    """A compiled pattern that records the length of every string it is asked about."""

    def __init__(self, pattern: re.Pattern[str], seen: list[int]) -> None:
        self.pattern, self.seen = pattern, seen

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.pattern, name)

        def spied(text: str, *args: Any) -> Any:
            self.seen.append(len(text))
            return method(text, *args)

        return spied


@pytest.fixture
def regex_lengths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every regular expression of the contacts modules, spied: the lengths it was run on."""
    seen: list[int] = []
    for module in (contacts, contact_fields, contact_search, contact_store):
        for name in dir(module):
            value = getattr(module, name)
            if isinstance(value, re.Pattern):
                monkeypatch.setattr(module, name, RegexSpy(value, seen))
    return seen


def test_an_email_that_backtracks_is_refused_at_once_on_post_put_and_upsert(
    api: Api, regex_lengths: list[int]
) -> None:
    call = TokenClient(api, token_for(api))
    contact = call("POST", "/contacts/", {"locationId": "loc1", "email": "ok@b.co"}).json_body["contact"][
        "id"
    ]
    hostile = "a@" + "." * 65300 + "@"
    for method, path, body in (
        ("POST", "/contacts/", {"locationId": "loc1", "email": hostile}),
        ("PUT", f"/contacts/{contact}", {"email": hostile}),
        ("POST", "/contacts/upsert", {"locationId": "loc1", "email": hostile}),
    ):
        started = time.perf_counter()
        response = call(method, path, body)
        elapsed = time.perf_counter() - started
        assert "email" in str(spec_error(response, 422)["message"])
        assert elapsed < 1.0, elapsed  # was 12 s
    assert all(length <= contacts.EMAIL_MAX for length in regex_lengths), max(regex_lengths)


def test_a_long_but_linear_email_is_still_checked_by_shape(api: Api) -> None:
    call = TokenClient(api, token_for(api))
    for email in ("a@b", "a@.b", "a@b.", "a b@c.d", "a@b@c.d", "@b.co", "a@" + "." * 200 + "@"):
        assert "email" in str(
            spec_error(call("POST", "/contacts/", {"locationId": "loc1", "email": email}), 422)
        )
    assert (
        call("POST", "/contacts/", {"locationId": "loc1", "email": "A.B@Sub.Example.co"}).status_code == 201
    )


BOUNDED_TEXT = [
    # (where, field, what the 422 names)
    ("create", "name", "name"),
    ("create", "description", "description"),
    ("edit", "name", "name"),
    ("edit", "description", "description"),
    ("revoke-all", "reason", "reason"),
    ("contact", "email", "email"),
    ("contact", "phone", "phone"),
    ("contact", "dateOfBirth", "dateOfBirth"),
    ("upsert", "email", "email"),
    ("upsert", "phone", "phone"),
    ("duplicate", "email", "email"),
    ("duplicate", "number", "number"),
]
MIB = 1 << 20


# A body holds at most 64 KiB (web.MAX_BODY_BYTES): a 1 MiB body is 413 before it is parsed, so bodies
# also carry the largest value that fits, which must be refused by its field's bound, not by a regex.
LARGEST_IN_A_BODY = web.MAX_BODY_BYTES - 200


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    case=st.sampled_from(BOUNDED_TEXT),
    unit=st.sampled_from([".", "a", "1", "@", " ", "-", "\u0663", "é", "a@b."]),
    prefix=st.sampled_from(["", "a@", "+", "x" * 10]),
    size=st.sampled_from([MIB, LARGEST_IN_A_BODY]),
)
def test_every_bounded_text_field_refuses_a_mebibyte_before_any_regex(
    api: Api, regex_lengths: list[int], case: tuple[str, str, str], unit: str, prefix: str, size: int
) -> None:
    """Every text field the contract bounds answers a 1 MiB value (and the largest a body holds) with a
    4xx at once: its length is checked before any regular expression or parser reads it."""
    where, field, named = case
    value = prefix + unit * (size // len(unit.encode()))
    value = value.encode()[: size - 8].decode(errors="ignore") + "x"  # not all blank once trimmed
    regex_lengths.clear()
    started = time.perf_counter()
    if where in ("create", "edit", "revoke-all"):
        path = {
            "create": "/locations/loc1/private-integrations",
            "edit": f"/private-integrations/{_an_integration(api)}",
            "revoke-all": "/agencies/ag1/private-integrations/revoke-all",
        }[where]
        body: dict[str, Any] = {field: value}
        if where == "create":
            body = {**LOCATION_BODY, **body}
        response = api.request("PATCH" if where == "edit" else "POST", path, body=body)
    else:
        call = TokenClient(api, _a_token(api))
        if where == "duplicate":
            response = call("GET", f"/contacts/search/duplicate?locationId=loc1&{field}={quote(value)}")
        else:
            path = "/contacts/upsert" if where == "upsert" else "/contacts/"
            response = call("POST", path, {"locationId": "loc1", field: value})
    elapsed = time.perf_counter() - started
    if where != "duplicate" and len(json.dumps(value)) > LARGEST_IN_A_BODY + 100:
        assert "at most 65536 bytes" in spec_error(response, 413)["message"]
    else:
        assert named in str(spec_error(response, 422)["message"])
    assert regex_lengths == [], "a regular expression ran on an over-long value"
    assert elapsed < 2.0, elapsed  # a generous bound for a shared machine; the quadratic case took 12 s


_cache: dict[str, str] = {}


def _a_token(api: Api) -> str:
    if "token" not in _cache or not _cache.get("fresh"):
        _cache["token"] = token_for(api)
        _cache["fresh"] = "1"
    return _cache["token"]


def _an_integration(api: Api) -> str:
    return created(api)


@pytest.fixture(autouse=True)
def _forget_cached_tokens() -> Any:
    _cache.clear()
    yield
    _cache.clear()


@pytest.mark.parametrize("start_after", ["²", "9" * 5000, "\uff11", "1" * 16])
def test_start_after_that_int_cannot_read_is_422(api: Api, start_after: str) -> None:
    call = TokenClient(api, token_for(api))
    response = call("GET", f"/contacts/?locationId=loc1&startAfter={quote(start_after)}")
    assert "startAfter" in str(spec_error(response, 422)["message"])


@pytest.mark.parametrize(
    "raw_value",
    ["NaN", "Infinity", "-Infinity", "1e400", "1e308", "1e127", "1e-131", "9" * 4000, "1" * 39, "1.5e-200"],
)
def test_numbers_dynamodb_cannot_store_are_422_naming_the_field(api: Api, raw_value: str) -> None:
    call = TokenClient(api, token_for(api))
    raw = (
        '{"locationId": "loc1", "email": "n@b.co", "customFields": '
        f'[{{"id": "f1", "field_value": {raw_value}}}]}}'
    )
    response = api.client.http.post(
        "/contacts/",
        headers={**VERSION, "Authorization": f"Bearer {call.token}", "Content-Type": "application/json"},
        body=raw.encode(),
    )
    assert response.status_code == 422, (raw_value[:20], response.status_code, response.body[:300])
    assert "customFields[0].field_value" in str(spec_error(response, 422)["message"])


@pytest.mark.parametrize(
    "raw_value", ["0", "-0.0", "1e125", "1e-129", "12345678901234567890123456789012345678", "3.14"]
)
def test_numbers_dynamodb_can_store_are_kept(api: Api, raw_value: str) -> None:
    call = TokenClient(api, token_for(api))
    raw = '{"locationId": "loc1", "customFields": [{"id": "f1", "field_value": ' + raw_value + "}]}"
    response = api.client.http.post(
        "/contacts/",
        headers={**VERSION, "Authorization": f"Bearer {call.token}", "Content-Type": "application/json"},
        body=raw.encode(),
    )
    assert response.status_code == 201, response.body


def test_a_phone_in_other_digits_is_the_same_phone(api: Api) -> None:
    call = TokenClient(api, token_for(api))
    first = call(
        "POST", "/contacts/", {"locationId": "loc1", "phone": "+\u0661\u0662\u0663\u0664\u0665\u0666\u0667"}
    )
    assert first.status_code == 201, first.body
    assert first.json_body["contact"]["phone"] == "+1234567"
    second = call("POST", "/contacts/", {"locationId": "loc1", "phone": "+1234567"})
    assert second.status_code == 400 and second.json_body["meta"]["matchingField"] == "phone", second.body
    fullwidth = call(
        "POST", "/contacts/", {"locationId": "loc1", "phone": "+\uff11\uff12\uff13\uff14\uff15\uff16\uff17"}
    )
    assert fullwidth.status_code == 400, fullwidth.body
    found = call(
        "GET",
        "/contacts/search/duplicate?locationId=loc1&number=%2B%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6%D9%A7",
    )
    assert found.json_body["contact"]["id"] == first.json_body["contact"]["id"]
    superscript = call("POST", "/contacts/", {"locationId": "loc1", "phone": "+\u00b2234567"})
    assert "phone" in str(spec_error(superscript, 422)["message"])


# --- from an attacker's review: values and cursors a real DynamoDB refuses (500 on DynamoDB Local) ---


@pytest.mark.engines
@pytest.mark.parametrize(
    ("field_value", "named"),
    [
        ('{"x": 1e300}', "customFields[0].field_value.x"),
        ('{"x": 1e-200}', "customFields[0].field_value.x"),
        ('{"x": 123456789012345678901234567890123456789012}', "customFields[0].field_value.x"),
        ('{"": 1}', "customFields[0].field_value"),
        ('{"x": {"": "a"}}', "customFields[0].field_value.x"),
        ('{"x": [1, 1e-140]}', "customFields[0].field_value.x[1]"),
    ],
)
def test_a_free_form_value_dynamodb_cannot_store_is_422_naming_it(
    api: Api, engine: str, field_value: str, named: str
) -> None:
    call = TokenClient(api, token_for(api))
    raw = '{"locationId": "loc1", "customFields": [{"id": "f1", "field_value": ' + field_value + "}]}"
    response = api.client.http.post(
        "/contacts/",
        headers={**VERSION, "Authorization": f"Bearer {call.token}", "Content-Type": "application/json"},
        body=raw.encode(),
    )
    assert named in str(spec_error(response, 422)["message"])


@pytest.mark.engines
def test_paging_cursors_too_long_or_too_large_are_422(api: Api, engine: str) -> None:
    call = TokenClient(api, token_for(api))
    for after in ([1, "x" * 2000], [10**1500, "x"], [-1, "x"], [1, "a/b"]):
        response = call("POST", "/contacts/search", {"locationId": "loc1", "searchAfter": after})
        assert "searchAfter" in str(spec_error(response, 422)["message"])
    response = call("GET", "/contacts/?locationId=loc1&startAfter=1&startAfterId=" + "x" * 2000)
    assert "startAfterId" in str(spec_error(response, 422)["message"])
    fine = call("POST", "/contacts/search", {"locationId": "loc1", "searchAfter": [1, "ab12"]})
    assert fine.status_code == 200


@pytest.mark.engines
def test_a_contact_cannot_grow_past_its_bound_and_a_page_stays_under_lambdas_limit(
    api: Api, engine: str
) -> None:
    """An attacker's review: merged custom fields grew a contact until DynamoDB refused it (500), and
    100 contacts of 15,000 emoji each made a 7 MB page (Lambda answers at most 6 MB)."""
    call = TokenClient(api, token_for(api))
    emoji = call("POST", "/contacts/", {"locationId": "loc1", "companyName": "\U0001f600" * 5_000})
    assert "at most 48 KiB" in str(spec_error(emoji, 422)["message"])
    created = call("POST", "/contacts/", {"locationId": "loc1", "email": "grow@b.co"})
    contact_id = created.json_body["contact"]["id"]
    answers = []
    for round_ in range(6):
        fields = [{"id": f"f{round_}-{n}", "field_value": "v" * 5000} for n in range(4)]
        answers.append(call("PUT", f"/contacts/{contact_id}", {"customFields": fields}).status_code)
    assert 500 not in answers and answers[0] == 200 and answers[-1] == 422
    stored = call("GET", f"/contacts/{contact_id}")
    assert stored.status_code == 200 and len(stored.body) <= 48 * 1024 + 100
