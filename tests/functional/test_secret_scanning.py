"""GitHub's secret-scanning partner endpoint: signed reports of leaked tokens revoke them at once.

Signatures are real ECDSA P-256 over the raw body, by keys the tests generate and publish in a keys
file, exactly as GitHub signs its reports and publishes its keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import clock, config
from chalicelib.tokens import token_text
from chalicelib.tokens.models import TokenModel
from local.github_signing import PATH, GitHubKey, body_of, match, write_keys
from tests.support.faults import install
from tests.support.lifecycle_helpers import assert_consistent, authorizes, cancel, create, rotate
from tests.support.world import Api, FakeClock, readable, scan_all_items

# The engine's behaviour matters here: these run on moto and on DynamoDB Local (tests/support/engines.py).
pytestmark = pytest.mark.engines

URL = "https://github.com/acme/app/blob/abc/config.py"


class GitHub:
    """GitHub's side: its current key, its keys document (a file here), and signed reports."""

    def __init__(self, api: Api, keys_file: Path) -> None:
        self.api = api
        self.keys_file = keys_file
        self.key = GitHubKey()
        write_keys(keys_file, self.key)

    def send(self, raw: bytes, headers: dict[str, str]) -> Any:
        # No session and no Version header: GitHub sends neither.
        return self.api.client.http.post(PATH, headers=headers, body=raw)

    def report(self, matches: list[dict[str, Any]], key: GitHubKey | None = None) -> Any:
        raw = body_of(matches)
        return self.send(raw, (key or self.key).headers(raw))


@pytest.fixture
def github(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHub]:
    keys_file = tmp_path / "github-keys.json"
    monkeypatch.setattr(config, "settings", config.settings._replace(github_keys_file=str(keys_file)))
    yield GitHub(api, keys_file)


def labels(response: Any) -> list[str]:
    assert response.status_code == 200, response.body
    return [entry["label"] for entry in response.json_body]


def integration(api: Api, integration_id: str) -> dict[str, Any]:
    return api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"]


def leaked_events(api: Api, integration_id: str) -> list[dict[str, Any]]:
    events = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    return [event for event in events if event["type"] == "token.leaked"]


# --- the signature ----------------------------------------------------------------------------------


def test_with_no_keys_configured_a_report_is_refused_saying_so(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: the bare 401 blamed the signature; only the server's log said no keys were set."""
    github = GitHub(api, tmp_path / "keys-nobody-configured.json")
    monkeypatch.setattr(config, "settings", config.settings._replace(github_keys_file=None))
    _, token = create(api)
    response = github.report([match(token, URL, "commit")])
    assert response.status_code == 401
    message = response.json_body["message"]
    assert message.startswith("No GitHub secret-scanning keys are configured here")
    assert "PI_GITHUB_KEYS_PARAMETER" in message and "PI_GITHUB_KEYS_FILE" in message
    assert token not in response.body.decode()
    assert authorizes(token)  # nothing was revoked


def test_a_signed_report_revokes_the_current_token(api: Api, github: GitHub, frozen_clock: FakeClock) -> None:
    integration_id, token = create(api)
    response = github.report([match(token, URL, "commit")])
    assert response.json_body == [
        {"token_raw": token, "token_type": "growthhub_private_integration_token", "label": "true_positive"}
    ]
    assert not authorizes(token)
    view = integration(api, integration_id)
    assert view["revocation"] == {
        "reason": "leaked",
        "at": "2026-01-15T12:00:00.000Z",
        "tokenHint": "pit-…" + token[-4:],
        "url": URL,
        "source": "commit",
    }
    (event,) = leaked_events(api, integration_id)
    assert event["actorId"] == "github:secret-scanning"
    assert event["details"]["url"] == URL and event["details"]["source"] == "commit"
    assert event["details"]["integrationWorks"] is False
    # Never the token nor its digest, anywhere.
    stored = json.dumps(scan_all_items(), default=readable)
    assert token not in stored
    assert token_text.digest(token) not in json.dumps(event)
    assert_consistent()


@pytest.mark.parametrize(
    "tamper",
    ["wrong key", "tampered body", "unknown identifier", "no headers", "not base64", "no signature"],
)
def test_a_bad_signature_is_401_and_nothing_happens(api: Api, github: GitHub, tamper: str) -> None:
    integration_id, token = create(api)
    raw = body_of([match(token)])
    headers = github.key.headers(raw)
    if tamper == "wrong key":
        other = GitHubKey(github.key.identifier)  # same identifier, another private key
        headers = other.headers(raw)
    elif tamper == "tampered body":
        raw = body_of([match(token, "https://github.com/evil/x")])
    elif tamper == "unknown identifier":
        headers = GitHubKey().headers(raw)
    elif tamper == "no headers":
        headers = {"Content-Type": "application/json"}
    elif tamper == "not base64":
        headers["GITHUB-PUBLIC-KEY-SIGNATURE"] = "%%%not base64%%%"
    elif tamper == "no signature":
        del headers["GITHUB-PUBLIC-KEY-SIGNATURE"]
    before = scan_all_items()
    response = github.send(raw, headers)
    assert response.status_code == 401, response.body
    assert response.json_body["error"] == "Unauthorized"
    assert "GITHUB-PUBLIC-KEY-SIGNATURE" in response.json_body["message"]
    assert scan_all_items() == before
    assert authorizes(token)
    assert leaked_events(api, integration_id) == []


def test_a_new_github_key_is_read_on_first_sight_at_most_once_a_minute(
    api: Api, github: GitHub, frozen_clock: FakeClock
) -> None:
    first, second, third = create(api).token, create(api).token, create(api).token
    assert labels(github.report([match(first)])) == ["true_positive"]  # the keys file is read once
    rotated = GitHubKey()
    # GitHub rotates its key; the operator publishes the new document; a minute later a report is
    # signed with the new key.
    write_keys(github.keys_file, rotated, github.key)
    frozen_clock.advance(seconds=60)
    # The identifier is unknown: the document is read again, and the new key verifies.
    assert labels(github.report([match(second)], key=rotated)) == ["true_positive"]
    # Another unknown identifier within the minute: not read again, 401.
    later = GitHubKey()
    write_keys(github.keys_file, later, rotated)
    frozen_clock.advance(seconds=59)
    assert github.report([match(third)], key=later).status_code == 401
    assert authorizes(third)
    frozen_clock.advance(seconds=1)
    assert labels(github.report([match(third)], key=later)) == ["true_positive"]
    # The old key, no longer in the document, is refused.
    assert github.report([match(first)], key=github.key).status_code == 401


def test_no_version_header_and_no_session_are_needed_but_a_session_is_no_signature(
    api: Api, github: GitHub
) -> None:
    _, token = create(api)
    raw = body_of([match(token)])
    # A valid session and Version header without GitHub's signature: still 401.
    response = api.request("POST", PATH, raw=raw)
    assert response.status_code == 401
    assert authorizes(token)


# --- the body ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{}",
        b'{"token": "pit-x"}',
        b"[1, 2]",
        b'[{"type": "t", "url": "u", "source": "content"}]',
        b'[{"token": 5, "type": "t", "url": "u", "source": "content"}]',
        b"[{",
        b"[]",
    ],
)
def test_a_body_that_is_not_an_array_of_matches_is_400(github: GitHub, raw: bytes) -> None:
    response = github.send(raw, github.key.headers(raw))
    assert response.status_code == 400, (raw, response.body)
    assert response.json_body["error"] == "Bad Request"
    assert "array" in response.json_body["message"] or "JSON" in response.json_body["message"]


def test_more_than_1000_matches_is_413(api: Api, github: GitHub) -> None:
    _, token = create(api)
    response = github.report([match(token)] * 1001)
    assert response.status_code == 413
    assert "1000" in response.json_body["message"]
    assert authorizes(token)
    assert len(labels(github.report([match(token_text.generate())] * 1000))) == 1000
    # A body too large to be such a report is refused before anything else.
    huge = body_of([match(token, "https://github.com/" + "a" * 3 * 1024 * 1024)])
    assert github.send(huge, github.key.headers(huge)).status_code == 413
    assert authorizes(token)


# --- what is revoked --------------------------------------------------------------------------------


def test_a_leaked_rotating_token_is_revoked_and_the_integration_keeps_working(
    api: Api, github: GitHub
) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    assert labels(github.report([match(old)])) == ["true_positive"]
    assert not authorizes(old) and authorizes(new)
    view = integration(api, integration_id)
    assert view["rotation"] is None and view["revocation"] is None
    (event,) = leaked_events(api, integration_id)
    assert event["details"]["integrationWorks"] is True
    assert event["details"]["tokenHint"] == "pit-…" + old[-4:]
    assert_consistent()


def test_a_leaked_current_token_during_a_rotation_leaves_the_old_one_for_its_overlap(
    api: Api, github: GitHub, frozen_clock: FakeClock
) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    assert labels(github.report([match(new)])) == ["true_positive"]
    assert authorizes(old) and not authorizes(new)
    view = integration(api, integration_id)
    assert view["revocation"]["reason"] == "leaked" and view["rotation"] is not None
    assert leaked_events(api, integration_id)[0]["details"]["integrationWorks"] is True
    assert_consistent()
    frozen_clock.advance(days=8)
    assert not authorizes(old)


def test_rotate_works_from_the_leaked_state(api: Api, github: GitHub) -> None:
    for expire in ("now", "later"):
        integration_id, token = create(api)
        github.report([match(token)])
        response = rotate(api, integration_id, expire)
        assert response.status_code == 200, response.body
        fresh = response.json_body["token"]
        view = response.json_body["privateIntegration"]
        assert view["revocation"] is None and view["rotation"] is None
        assert view["token"]["hint"] == "pit-…" + fresh[-4:]
        assert integration(api, integration_id) == view
        assert authorizes(fresh) and not authorizes(token)
        assert fresh not in api.get(f"/private-integrations/{integration_id}").body.decode()
        assert_consistent()
        # The revoked token's record went with the rotation: a later report of it is a false positive.
        assert labels(github.report([match(token)])) == ["false_positive"]


def test_cancel_from_the_leaked_state_restores_the_old_token(api: Api, github: GitHub) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    github.report([match(new)])
    response = cancel(api, integration_id)
    assert response.status_code == 200
    assert response.json_body["privateIntegration"]["revocation"] is None
    assert authorizes(old) and not authorizes(new)
    assert_consistent()


def test_edit_and_delete_work_in_the_leaked_state(api: Api, github: GitHub) -> None:
    integration_id, token = create(api)
    github.report([match(token)])
    edited = api.patch(f"/private-integrations/{integration_id}", {"scopes": ["contacts.write"]})
    assert edited.status_code == 200 and edited.json_body["privateIntegration"]["revocation"] is not None
    assert not authorizes(token)
    assert_consistent()
    assert api.delete(f"/private-integrations/{integration_id}").status_code == 204
    assert TokenModel.count() == 0
    assert_consistent()


def test_unknown_revoked_and_malformed_tokens_are_false_positives(api: Api, github: GitHub) -> None:
    integration_id, old = create(api)
    rotate(api, integration_id, "now")
    unknown = token_text.generate()
    bad_checksum = unknown[:-1] + ("A" if unknown[-1] != "A" else "B")
    response = github.report([match(old), match(unknown), match(bad_checksum), match("pit-short")])
    assert labels(response) == ["false_positive"] * 4
    assert leaked_events(api, integration_id) == []


def test_a_malformed_token_costs_no_database_read(
    api: Api, github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = token_text.generate()
    faults = install(monkeypatch)
    response = github.report([match(unknown[:-1] + "!"), match("pit-" + "a" * 49), match("ghp_nothing")])
    assert labels(response) == ["false_positive"] * 3
    assert [call for call in faults.operations() if call.startswith("dynamodb.")] == []


def test_a_mixed_batch_and_its_retry_revoke_once_and_record_once(api: Api, github: GitHub) -> None:
    first_id, first = create(api)
    second_id, second = create(api, ["locations.readonly"], owner="agencies/ag1")
    third_id, third = create(api)
    rotated_out = rotate(api, third_id, "later").json_body["token"]
    gone_id, gone = create(api)
    rotate(api, gone_id, "now")
    batch = [
        match(first, URL, "content"),
        match(token_text.generate()),
        match(second, "https://github.com/acme/other/issues/1", "issue_comment"),
        match("pit-nope"),
        match(third),
        match(first, "https://github.com/acme/app/pull/2", "pull_request_description"),
        match(gone),
    ]
    true, false = "true_positive", "false_positive"
    expected = [true, false, true, false, true, true, false]
    assert labels(github.report(batch)) == expected
    # GitHub retries the same batch: the same answer, no second revocation or event.
    before = scan_all_items()
    assert labels(github.report(batch)) == expected
    assert scan_all_items() == before
    for integration_id in (first_id, second_id, third_id):
        assert len(leaked_events(api, integration_id)) == 1
    assert integration(api, first_id)["revocation"]["url"] == URL  # the first match of it
    assert not any(authorizes(t) for t in (first, second, third)) and authorizes(rotated_out)
    assert_consistent()


def test_a_revocation_flushes_the_authorizer_caches(
    api: Api, github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "settings", config.settings._replace(cache_flush_targets=("down1/prod",)))
    _, token = create(api)
    faults = install(monkeypatch)
    github.report([match(token_text.generate())])
    assert "api-gateway.FlushStageAuthorizersCache" not in faults.operations()  # nothing revoked
    github.report([match(token)])
    assert faults.operations().count("api-gateway.FlushStageAuthorizersCache") == 1


def test_the_answer_never_tells_more_than_the_labels(api: Api, github: GitHub) -> None:
    """Unknown, revoked and malformed look alike: the same status, headers and body but for the token."""
    rotated_away = create(api)
    rotate(api, rotated_away.integration_id, "now")
    sent = [token_text.generate(), rotated_away.token, "pit-x"]
    answers = [github.report([match(token)]) for token in sent]
    assert {response.status_code for response in answers} == {200}
    assert len({tuple(sorted(response.headers)) for response in answers}) == 1
    bodies = {json.dumps(r.json_body).replace(token, "T") for r, token in zip(answers, sent, strict=True)}
    assert len(bodies) == 1


def test_without_a_configured_keys_document_every_report_is_refused(
    api: Api, github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = create(api)
    monkeypatch.setattr(config, "settings", config.settings._replace(github_keys_file=None))
    assert github.report([match(token)]).status_code == 401
    assert authorizes(token)


def test_an_entry_that_is_not_a_p256_key_does_not_lock_out_the_others(api: Api, github: GitHub) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    p384 = GitHubKey()
    p384.private = ec.generate_private_key(ec.SECP384R1())
    document = {
        "public_keys": [
            {"key_identifier": "rsa", "key": rsa_pem.decode(), "is_current": False},
            {"key_identifier": "junk", "key": "-----BEGIN PUBLIC KEY-----\nnope", "is_current": False},
            "not an object",
            p384.entry(False),
            github.key.entry(True),
        ]
    }
    github.keys_file.write_text(json.dumps(document))
    _, token = create(api)
    assert github.report([match(token)], key=p384).status_code == 401
    assert labels(github.report([match(token)])) == ["true_positive"]


# --- with expiry dates and the outbox (issue 15) ------------------------------------------------------


def _expiring(api: Api, days: int) -> tuple[str, str]:
    response = api.post(
        "/locations/loc1/private-integrations",
        {"name": "expiring", "scopes": ["contacts.readonly"], "expiresInDays": days},
    )
    assert response.status_code == 201, response.body
    return response.json_body["privateIntegration"]["id"], response.json_body["token"]


def test_a_leaked_expiring_token_stays_recorded_past_its_expiry_and_rotate_still_works(
    api: Api, github: GitHub, frozen_clock: FakeClock
) -> None:
    """TTL must not remove the leaked current token's item while the integration points at it: the
    record keeps GitHub's retries true_positive and lets a rotate (which deletes it) go through."""
    integration_id, token = _expiring(api, 3)
    assert labels(github.report([match(token, URL)])) == ["true_positive"]
    item = TokenModel.get(token_text.digest(token), consistent_read=True)
    assert item.state == "revoked" and item.expires_at is None  # nothing for TTL to act on
    frozen_clock.advance(days=4)
    assert labels(github.report([match(token, URL)])) == ["true_positive"]
    assert api.patch(f"/private-integrations/{integration_id}", {"name": "still editable"}).status_code == 200
    fresh = rotate(api, integration_id, "later")
    assert fresh.status_code == 200, fresh.body
    assert authorizes(fresh.json_body["token"]) and not authorizes(token)
    assert not integration(api, integration_id).get("revocation")
    assert_consistent()


def test_a_token_past_its_chosen_expiry_is_no_longer_live_so_a_report_changes_nothing(
    api: Api, github: GitHub, frozen_clock: FakeClock
) -> None:
    integration_id, token = _expiring(api, 1)
    frozen_clock.advance(days=1)
    assert not authorizes(token)
    assert labels(github.report([match(token, URL)])) == ["false_positive"]
    assert not integration(api, integration_id).get("revocation")
    assert leaked_events(api, integration_id) == []
    assert_consistent()


def test_a_leak_reaches_eventbridge_through_the_outbox_with_where_it_was_found_and_no_token(
    api: Api, github: GitHub
) -> None:
    from tests.support.bus import Bus

    bus = Bus(handler=lambda event: api.client.lambda_.invoke("publish_audit_events", event).payload)
    integration_id, token = create(api)
    assert labels(github.report([match(token, URL, "commit")])) == ["true_positive"]
    assert labels(github.report([match(token, URL, "commit")])) == ["true_positive"]  # GitHub's retry
    leaks = [m for m in bus.published() if m["detail-type"] == "token.leaked"]
    assert len(leaks) == 1
    detail = leaks[0]["detail"]
    assert detail["integrationId"] == integration_id
    assert detail["details"]["url"] == URL and detail["details"]["source"] == "commit"
    text = json.dumps(leaks[0])
    assert token not in text and token_text.digest(token) not in text


# --- found by an attacker's review -------------------------------------------------------------------


def test_a_report_cut_off_by_the_database_still_flushes_what_it_revoked_and_says_so(
    api: Api, github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's revocation commits, B's write is throttled: A must not stay admitted by a cached Allow, and
    the 503 must not claim that nothing changed. GitHub's retry finishes B and flushes again."""
    from tests.support.faults import THROTTLE

    monkeypatch.setattr(config, "settings", config.settings._replace(cache_flush_targets=("down1/prod",)))
    (_, first), (_, second) = create(api), create(api)
    faults = install(monkeypatch)
    write = "dynamodb.TransactWriteItems"
    # Before the second revocation's write (the first one's goes through): throttle it.
    faults.before(write, lambda: faults.before(write, lambda: faults.arm_next(write, THROTTLE)))
    response = github.report([match(first), match(second)])
    assert response.status_code == 503
    assert "the tokens handled before that are revoked" in response.json_body["message"]
    assert not authorizes(first) and authorizes(second)
    assert faults.operations().count("api-gateway.FlushStageAuthorizersCache") == 1
    faults.reset()
    assert labels(github.report([match(first), match(second)])) == ["true_positive", "true_positive"]
    assert not authorizes(second)
    assert faults.operations().count("api-gateway.FlushStageAuthorizersCache") == 1
    assert_consistent()


def test_a_long_type_is_cut_like_the_other_fields(api: Api, github: GitHub) -> None:
    integration_id, token = create(api)
    entry = {**match(token, URL), "type": "t" * 300_000}
    assert labels(github.report([entry])) == ["true_positive"]
    (event,) = leaked_events(api, integration_id)
    assert len(event["details"]["type"]) == 100


def test_the_event_says_the_integration_stopped_working_when_its_current_token_is_past_its_expiry(
    api: Api, github: GitHub, frozen_clock: FakeClock
) -> None:
    integration_id, old = create(api)
    response = api.post(
        f"/private-integrations/{integration_id}/rotate", {"expire": "later", "expiresInDays": 1}
    )
    new = response.json_body["token"]
    frozen_clock.advance(days=3)  # the new token is past its expiry; the old one is in its overlap
    assert authorizes(old) and not authorizes(new)
    assert labels(github.report([match(old, URL)])) == ["true_positive"]
    assert leaked_events(api, integration_id)[0]["details"]["integrationWorks"] is False
    assert not authorizes(old)


def test_a_key_github_withdrew_stops_being_trusted_within_ten_minutes(
    api: Api, github: GitHub, frozen_clock: FakeClock
) -> None:
    first, second = create(api).token, create(api).token
    assert labels(github.report([match(first)])) == ["true_positive"]
    write_keys(github.keys_file, GitHubKey())  # the document no longer holds GitHub's old key
    frozen_clock.advance(minutes=9, seconds=59)
    assert labels(github.report([match(first)])) == ["true_positive"]  # still trusted, not read again
    frozen_clock.advance(seconds=1)
    assert github.report([match(second)]).status_code == 401
    assert authorizes(second)


def test_a_report_longer_than_one_request_may_take_stops_in_time_and_the_retry_goes_on(
    api: Api, github: GitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API handler has 15 s: a report of many live tokens stops at its time budget, flushes what it
    revoked and answers 503; each retry skips the revoked ones quickly and goes further."""
    from chalicelib.scanning import reports as leaks

    monkeypatch.setattr(config, "settings", config.settings._replace(cache_flush_targets=("down1/prod",)))
    issued = [create(api).token for _ in range(3)]
    ticks = iter(range(1000))
    # Each token handled costs "one second" against a budget of 1.5: two per request.
    monkeypatch.setattr(clock, "monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(leaks, "REPORT_BUDGET_SECONDS", 1.5)
    faults = install(monkeypatch)
    first = github.report([match(token) for token in issued])
    assert first.status_code == 503
    assert "the tokens handled so far are revoked" in first.json_body["message"]
    assert [authorizes(token) for token in issued] == [False, False, True]
    assert faults.operations().count("api-gateway.FlushStageAuthorizersCache") == 1
    ticks = iter(range(1000))
    monkeypatch.setattr(leaks, "REPORT_BUDGET_SECONDS", 5.0)
    assert labels(github.report([match(token) for token in issued])) == ["true_positive"] * 3
    assert not any(authorizes(token) for token in issued)
    assert_consistent()


def test_an_unreadable_keys_document_is_trusted_for_an_hour_then_refused_with_an_alarm(
    api: Api,
    github: GitHub,
    frozen_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The last keys read stay trusted for at most STALE_LIMIT (1 hour) after the last successful read,
    however often re-reads fail meanwhile; then reports are refused, with an error line and the
    `GitHubKeysUnreadable` metric (what the alarm watches) on every refused report."""
    from chalicelib.scanning import keys as scanning_keys

    assert timedelta(hours=1) == scanning_keys.STALE_LIMIT
    issued = [create(api).token for _ in range(8)]
    assert labels(github.report([match(issued[0])])) == ["true_positive"]  # keys read at 12:00
    github.keys_file.write_text("{not json")  # the parameter was broken (or SSM is unreachable)
    capsys.readouterr()
    for token in issued[1:7]:  # a report every 9 minutes: each finds the document unreadable
        frozen_clock.advance(minutes=9)
        assert labels(github.report([match(token)])) == ["true_positive"]  # still the last good keys
    frozen_clock.advance(minutes=6, seconds=1)  # 1 h 0 min 1 s after the last good read
    caplog.clear()
    refused = github.report([match(issued[7])])
    assert refused.status_code == 401
    assert authorizes(issued[7])
    assert any("secret-scanning keys unreadable for" in r.getMessage() for r in caplog.records)
    assert any(r.levelname == "ERROR" for r in caplog.records)
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(m.get("GitHubKeysUnreadable") == [1.0] or m.get("GitHubKeysUnreadable") == 1 for m in metrics)
    # Once the document is readable again, reports are accepted at the next read (at most a minute).
    write_keys(github.keys_file, github.key)
    frozen_clock.advance(minutes=1)
    assert labels(github.report([match(issued[7])])) == ["true_positive"]
