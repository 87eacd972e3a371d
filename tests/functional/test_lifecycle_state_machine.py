"""Random sequences of lifecycle actions, also interleaved with each other and with injected faults;
after every step exactly the tokens the model says are live authorize, and the tables keep their
invariants (hypothesis RuleBasedStateMachine)."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.core import clock, config
from local.gateway import install_api_gateway_behaviour
from local.github_signing import PATH, GitHubKey, body_of, match, write_keys
from tests.support import engines
from tests.support.faults import KINDS, install
from tests.support.lifecycle_helpers import assert_consistent, authorizes
from tests.support.world import Api, FakeClock, seeded_world

OVERLAP = timedelta(days=7)
EXPIRIES = (None, None, 3, 10)  # a new token's chosen expiry in days (None: never), at create and rotate
# "leak …": GitHub reports the integration's current or rotating-out token (as it was when sent).
ACTIONS = (
    "rotate later", "rotate now", "cancel", "expire now", "edit", "delete", "leak current", "leak previous"
)
# What a user does when a token leaked, and a leak report: re-read and retried past a concurrent change.
SECURITY_ACTIONS = ("rotate now", "expire now", "delete", "leak current", "leak previous")
GITHUB = GitHubKey()
SCOPE_SETS = (["contacts.readonly"], ["contacts.write", "locations.readonly"])


@dataclass
class Expected:
    current: str
    previous: str | None = None
    expires: datetime | None = None  # the end of the overlap (never past the old token's own expiry)
    scopes: list[str] = field(default_factory=lambda: ["contacts.readonly"])
    revoked: bool = False  # the current token leaked: it no longer works until a rotate
    current_until: datetime | None = None  # the current token's chosen expiry
    previous_own: datetime | None = None  # the rotating-out token's chosen expiry (a cancel restores it)


class Lifecycle(RuleBasedStateMachine):
    engine = engines.MOTO

    def __init__(self) -> None:
        super().__init__()
        self.stack = ExitStack()
        self.clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
        clock.set_source(self.clock)
        self.stack.enter_context(seeded_world(self.engine))
        from app import app

        install_api_gateway_behaviour()
        self.client = Client(app)
        self.api = Api(self.client)
        self.expected: dict[str, Expected] = {}
        self.dead: list[str] = []
        # Tokens revoked because they leaked whose item is kept: GitHub's retries get true_positive.
        self.kept_leaked: set[str] = set()
        self.rotation_expiry: int | None = None  # what the next rotation asks for
        keys = write_keys(Path(self.stack.enter_context(tempfile.TemporaryDirectory())) / "keys.json", GITHUB)
        patch = self.stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(config, "settings", config.settings._replace(github_keys_file=str(keys)))

    def teardown(self) -> None:
        self.stack.close()
        clock.reset()

    def _pick(self, data: Any) -> tuple[str, Expected]:
        if not self.expected:
            self.create()  # keep every rule enabled: preconditions make hypothesis discard long runs
        integration_id = data.draw(st.sampled_from(sorted(self.expected)))
        return integration_id, self.expected[integration_id]

    def _pending_live(self, state: Expected) -> bool:
        return state.previous is not None and state.expires is not None and self.clock.current < state.expires

    def _until(self, days: int | None) -> datetime | None:
        return self.clock.current + timedelta(days=days) if days else None

    def _current_live(self, state: Expected) -> bool:
        """The current token authorizes: not revoked because it leaked, and before its chosen expiry."""
        return not state.revoked and (state.current_until is None or self.clock.current < state.current_until)

    @initialize()
    def first_integration(self) -> None:
        self.create()

    @precondition(lambda self: len(self.expected) < 3)
    @rule(days=st.sampled_from(EXPIRIES))
    def another_integration(self, days: int | None) -> None:
        self.create(days)

    def create(self, days: int | None = None) -> None:
        body = {"name": "m", "scopes": ["contacts.readonly"], "expiresInDays": days}
        response = self.api.post("/locations/loc1/private-integrations", body)
        assert response.status_code == 201
        self.expected[response.json_body["privateIntegration"]["id"]] = Expected(
            current=response.json_body["token"], current_until=self._until(days)
        )

    # --- the model ----------------------------------------------------------------------------------

    def _expected_status(self, action: str, integration_id: str) -> int:
        state = self.expected.get(integration_id)
        if action.startswith("leak"):
            return 200  # whatever the token: a label, never an error
        if state is None:
            return 404
        if action == "rotate later":
            return 409 if self._pending_live(state) and not state.revoked else 200
        if action in ("cancel", "expire now"):
            return 200 if self._pending_live(state) else 409
        return 204 if action == "delete" else 200

    def _apply(self, action: str, integration_id: str, response: Any, reported: str | None = None) -> None:
        """A successful action, as the model sees it (`reported`: the token a leak report named)."""
        state = self.expected.get(integration_id)
        if action.startswith("leak"):
            self._leaked(state, reported, response)
            return
        assert state is not None
        now, new_until = self.clock.current, self._until(self.rotation_expiry)
        current_live = self._current_live(state)
        if state.revoked and action in ("rotate later", "rotate now", "cancel"):
            # The leaked current token's kept item goes with it.
            self.kept_leaked.discard(state.current)
            state.revoked = False
        if action == "rotate later":
            if state.previous is not None and not self._pending_live(state):
                self.dead.append(state.previous)  # its overlap had ended: finished by this rotation
                state.previous, state.expires, state.previous_own = None, None, None
            if current_live:  # the overlap never outlasts the old token's own expiry
                state.previous, state.previous_own = state.current, state.current_until
                state.expires = min(now + OVERLAP, state.current_until or now + OVERLAP)
            elif state.current not in self.dead:  # past its own expiry: nothing to overlap, gone at once
                self.dead.append(state.current)
            state.current, state.current_until = response.json_body["token"], new_until
        elif action == "rotate now":
            self.dead += [t for t in (state.current, state.previous) if t]
            state.previous, state.expires, state.previous_own = None, None, None
            state.current, state.current_until = response.json_body["token"], new_until
        elif action == "cancel":
            assert state.previous is not None
            self.dead.append(state.current)
            state.current, state.current_until = state.previous, state.previous_own
            state.previous, state.expires, state.previous_own = None, None, None
        elif action == "expire now":
            assert state.previous is not None
            self.dead.append(state.previous)
            state.previous, state.expires, state.previous_own = None, None, None
        elif action == "delete":
            self.dead += [t for t in (state.current, state.previous) if t]
            self.kept_leaked.discard(state.current)
            del self.expected[integration_id]
        elif action == "edit":
            state.scopes = list(response.json_body["privateIntegration"]["scopes"])

    def _leaked(self, state: Expected | None, reported: str | None, response: Any) -> None:
        """GitHub reported `reported`: revoked if it was live (the current or a rotating-out token)."""
        if reported is not None and state is not None:
            if reported == state.current and self._current_live(state):
                state.revoked = True
                self.dead.append(reported)
                self.kept_leaked.add(reported)
            elif reported == state.previous and self._pending_live(state):
                self.dead.append(reported)
                self.kept_leaked.add(reported)
                state.previous, state.expires, state.previous_own = None, None, None
        label = "true_positive" if reported in self.kept_leaked else "false_positive"
        assert [entry["label"] for entry in response.json_body] == [label], (reported, response.json_body)

    def _reported(self, action: str, integration_id: str) -> str | None:
        """The token a leak report names: the current or the rotating-out one (None: nothing to report)."""
        state = self.expected.get(integration_id)
        if state is None:
            return None
        return state.current if action == "leak current" else state.previous

    def _send(self, action: str, integration_id: str, scopes: list[str]) -> Any:
        path = f"/private-integrations/{integration_id}"
        if action.startswith("leak"):
            raw = body_of([match(self._reported(action, integration_id) or "pit-nothing-to-report")])
            return self.client.http.post(PATH, headers=GITHUB.headers(raw), body=raw)
        if action.startswith("rotate"):
            body = {"expire": action.split()[1], "expiresInDays": self.rotation_expiry}
            return self.api.post(f"{path}/rotate", body)
        if action == "cancel":
            return self.api.post(f"{path}/rotation/cancel", {})
        if action == "expire now":
            return self.api.post(f"{path}/rotation/expire-now", {})
        if action == "edit":
            return self.api.patch(path, {"scopes": scopes})
        return self.api.delete(path)

    def _perform(self, action: str, integration_id: str, scopes: list[str]) -> bool:
        """Send the action, check its answer against the model; True when it wrote something."""
        expected = self._expected_status(action, integration_id)
        state = self.expected.get(integration_id)
        changes_nothing = action == "edit" and state is not None and state.scopes == scopes
        reported = self._reported(action, integration_id)
        dead_before = list(self.dead)
        response = self._send(action, integration_id, scopes)
        assert response.status_code == expected, (action, response.status_code, response.body)
        if expected in (200, 204):
            self._apply(action, integration_id, response, reported)
        if action.startswith("leak"):
            return self.dead != dead_before  # wrote only when it revoked
        return expected in (200, 204) and not changes_nothing

    # --- rules ----------------------------------------------------------------------------------------

    @rule(data=st.data(), action=st.sampled_from(ACTIONS), scopes=st.sampled_from(SCOPE_SETS))
    def act(self, data: Any, action: str, scopes: list[str]) -> None:
        integration_id, _ = self._pick(data)
        self.rotation_expiry = data.draw(st.sampled_from(EXPIRIES))
        self._perform(action, integration_id, scopes)

    @rule(
        data=st.data(),
        action=st.sampled_from(ACTIONS),
        kind=st.sampled_from(KINDS),
        index=st.integers(min_value=0, max_value=7),
        scopes=st.sampled_from(SCOPE_SETS),
    )
    def act_with_a_fault(self, data: Any, action: str, kind: str, index: int, scopes: list[str]) -> None:
        """One AWS call of the action fails: the answer is a success that did everything, or a 503
        that did nothing (the invariants then compare every token with the model)."""
        integration_id, _ = self._pick(data)
        self.rotation_expiry = data.draw(st.sampled_from(EXPIRIES))
        expected = self._expected_status(action, integration_id)
        reported = self._reported(action, integration_id)
        with pytest.MonkeyPatch.context() as patch:
            install(patch).arm(index, kind)
            response = self._send(action, integration_id, scopes)
        assert response.status_code in (expected, 503), (action, kind, index, response.body)
        if response.status_code in (200, 204):
            self._apply(action, integration_id, response, reported)

    @rule(
        data=st.data(),
        first=st.sampled_from(ACTIONS),
        second=st.sampled_from(ACTIONS),
        scopes=st.sampled_from(SCOPE_SETS),
    )
    def interleave(self, data: Any, first: str, second: str, scopes: list[str]) -> None:
        """`second` lands between `first`'s read and its write."""
        integration_id, _ = self._pick(data)
        self.rotation_expiry = data.draw(st.sampled_from(EXPIRIES))
        ran: list[bool] = []

        def competitor() -> None:
            ran.append(self._perform(second, integration_id, scopes))

        before = self._expected_status(first, integration_id)
        reported = self._reported(first, integration_id)
        with pytest.MonkeyPatch.context() as patch:
            faults = install(patch)
            faults.before("dynamodb.TransactWriteItems", competitor)
            # The competitor's status is checked, and the model moved, inside competitor().
            response = self._send(first, integration_id, scopes)
            faults.pending_before.clear()
        if not ran:  # `first` wrote nothing (refused, or an edit that changed nothing)
            assert response.status_code == before, (first, response.body)
            if before in (200, 204):
                self._apply(first, integration_id, response, reported)
            self._perform(second, integration_id, scopes)
            return
        after = self._expected_status(first, integration_id)
        if first in SECURITY_ACTIONS:
            expected = after  # re-read and applied to the state the competitor left
        elif integration_id not in self.expected:
            expected = 404
        else:
            # One winner: the loser is the one that read before the other wrote.
            expected = 409 if ran[0] else before
        assert response.status_code == expected, (first, second, response.status_code, response.body)
        if expected in (200, 204):
            self._apply(first, integration_id, response, reported)

    @rule(step=st.sampled_from([timedelta(minutes=1), timedelta(hours=23)]))
    def advance_a_little(self, step: timedelta) -> None:
        self.clock.current += step

    # Lands exactly on, or past, the end of a 7-day overlap that started at the same moment.
    @rule(step=st.sampled_from([OVERLAP, timedelta(days=8)]))
    def advance_past_the_overlap(self, step: timedelta) -> None:
        self.clock.current += step

    @rule()
    def cleanup(self) -> None:
        event = self.client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [])
        self.client.lambda_.invoke("scheduled_cleanup", event)
        for state in self.expected.values():
            if (
                state.previous is not None
                and state.expires is not None
                and self.clock.current >= state.expires
            ):
                self.dead.append(state.previous)
                state.previous, state.expires, state.previous_own = None, None, None

    @invariant()
    def exactly_the_live_tokens_authorize(self) -> None:
        for state in self.expected.values():
            assert authorizes(state.current) == self._current_live(state)
            if state.previous is not None:
                assert authorizes(state.previous) == self._pending_live(state)
        for token in self.dead:
            assert not authorizes(token)
        assert_consistent()


Lifecycle.TestCase.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
test_lifecycle_state_machine = Lifecycle.TestCase


class LifecycleOnDynamoDBLocal(Lifecycle):
    """The same machine on DynamoDB Local, with no lock in front of it: every rule but the injected
    faults (which only moto's in-process stubber can inject); interleavings stay (a real request landing
    between another's read and write). Fewer examples: each step costs real HTTP round trips."""

    engine = engines.DYNAMODB_LOCAL

    def act_with_a_fault(self, *args: Any, **kwargs: Any) -> None:  # not a rule here
        raise AssertionError("faults are injected on moto only")


LifecycleOnDynamoDBLocal.TestCase.settings = settings(max_examples=12, stateful_step_count=25, deadline=None)
test_lifecycle_state_machine_on_dynamodb_local = LifecycleOnDynamoDBLocal.TestCase
