"""Random sequences of lifecycle actions; after every step exactly the tokens the model says are live
authorize, and the tables keep their invariants (hypothesis RuleBasedStateMachine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from moto import mock_aws

from chalicelib import clock, directory, models
from chalicelib.local_gateway import install_api_gateway_behaviour
from tests.conftest import SEED, Api, FakeClock
from tests.lifecycle_helpers import assert_consistent, authorizes

OVERLAP = timedelta(days=7)


@dataclass
class Expected:
    current: str
    previous: str | None = None
    expires: datetime | None = None
    dead: list[str] = field(default_factory=list)


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        self.clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))
        clock.set_source(self.clock)
        models.create_tables()
        import json
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as seed:
            json.dump(SEED, seed)
        directory.load_seed(seed.name)
        from app import app

        install_api_gateway_behaviour()
        self.client = Client(app)
        self.api = Api(self.client)
        self.expected: dict[str, Expected] = {}
        self.dead: list[str] = []

    def teardown(self) -> None:
        self.mock.stop()
        clock.reset()

    def _pick(self, data: Any) -> tuple[str, Expected]:
        if not self.expected:
            self.create()  # keep every rule enabled: preconditions make hypothesis discard long runs
        integration_id = data.draw(st.sampled_from(sorted(self.expected)))
        return integration_id, self.expected[integration_id]

    def _pending_live(self, state: Expected) -> bool:
        return state.previous is not None and state.expires is not None and self.clock.current < state.expires

    @initialize()
    def first_integration(self) -> None:
        self.create()

    @precondition(lambda self: len(self.expected) < 3)
    @rule()
    def another_integration(self) -> None:
        self.create()

    def create(self) -> None:
        response = self.api.post(
            "/locations/loc1/private-integrations", {"name": "m", "scopes": ["contacts.readonly"]}
        )
        assert response.status_code == 201
        self.expected[response.json_body["privateIntegration"]["id"]] = Expected(
            current=response.json_body["token"]
        )

    @rule(data=st.data())
    def rotate_later(self, data: Any) -> None:
        self._rotate(data, "later")

    @rule(data=st.data())
    def rotate_now(self, data: Any) -> None:
        self._rotate(data, "now")

    def _rotate(self, data: Any, expire: str) -> None:
        integration_id, state = self._pick(data)
        response = self.api.post(f"/private-integrations/{integration_id}/rotate", {"expire": expire})
        # An overlap that has ended is a finished rotation (integrations.rotation_pending), cleaned up or not.
        if expire == "later" and self._pending_live(state):
            assert response.status_code == 409
            return
        assert response.status_code == 200, response.body
        new = response.json_body["token"]
        if expire == "later":
            self.dead += [state.previous] if state.previous else []
            state.previous, state.expires = state.current, self.clock.current + OVERLAP
        else:
            self.dead += [t for t in (state.current, state.previous) if t]
            state.previous, state.expires = None, None
        state.current = new

    @rule(data=st.data())
    def cancel(self, data: Any) -> None:
        integration_id, state = self._pick(data)
        response = self.api.post(f"/private-integrations/{integration_id}/rotation/cancel", {})
        if not self._pending_live(state):
            assert response.status_code == 409
            return
        assert response.status_code == 200, response.body
        assert state.previous is not None
        self.dead.append(state.current)
        state.current, state.previous, state.expires = state.previous, None, None

    @rule(data=st.data())
    def expire_now(self, data: Any) -> None:
        integration_id, state = self._pick(data)
        response = self.api.post(f"/private-integrations/{integration_id}/rotation/expire-now", {})
        if not self._pending_live(state):
            assert response.status_code == 409
            return
        assert response.status_code == 200, response.body
        self.dead.append(state.previous)
        state.previous, state.expires = None, None

    @rule(
        data=st.data(),
        scopes=st.sampled_from([["contacts.readonly"], ["contacts.write", "locations.readonly"]]),
    )
    def edit(self, data: Any, scopes: list[str]) -> None:
        integration_id, _ = self._pick(data)
        response = self.api.patch(f"/private-integrations/{integration_id}", {"scopes": scopes})
        assert response.status_code == 200

    @rule(data=st.data())
    def delete(self, data: Any) -> None:
        integration_id, state = self._pick(data)
        assert self.api.delete(f"/private-integrations/{integration_id}").status_code == 204
        self.dead += [t for t in (state.current, state.previous) if t]
        del self.expected[integration_id]

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
                state.previous, state.expires = None, None

    @invariant()
    def exactly_the_live_tokens_authorize(self) -> None:
        for state in self.expected.values():
            assert authorizes(state.current)
            if state.previous is not None:
                assert authorizes(state.previous) == self._pending_live(state)
        for token in self.dead:
            assert not authorizes(token)
        assert_consistent()


Lifecycle.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_lifecycle_state_machine = Lifecycle.TestCase
