"""The policy is planned when a token's scopes are set and kept with the token (issue 21): the authorizer
plans nothing for a current token, a catalog change is detected and planned again off the request path,
and what is stored always equals a fresh plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import authorizer, catalog, policy, replan, stored_policy, token_text
from chalicelib.tokens.models import TokenModel
from local import iam
from local.item_size import item_bytes, read_units
from tests.support.catalogs import extra_catalog as changed_catalog
from tests.support.lifecycle_helpers import ARN, cancel, create, expire_now, rotate
from tests.support.world import Api

# The replan's conditions (a list's equality, a version) and the transactions that store plans are
# engine behaviour: both engines.
pytestmark = pytest.mark.engines

ALL_LOCATION_SCOPES = sorted(s for s, levels in catalog.scope_levels().items() if "location" in levels)
ALL_AGENCY_SCOPES = sorted(s for s, levels in catalog.scope_levels().items() if "agency" in levels)


def fresh_plan(item: TokenModel) -> stored_policy.Globs:
    own = item.owner_id if item.owner_type == "location" else None
    return policy.globs(frozenset(item.scopes), item.owner_type, own)


def assert_every_live_token_holds_a_fresh_plan() -> int:
    checked = 0
    for item in TokenModel.scan(consistent_read=True):
        if item.state not in ("active", "rotating"):
            continue
        assert item.policy_version == stored_policy.version()
        assert item.policy is not None
        assert stored_policy.decode(item.policy) == fresh_plan(item)
        checked += 1
    return checked


def refuse_planning(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on planning fails loudly: whatever authorizes used the stored plan."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("planned on the request path")

    for name in ("plan", "globs", "document", "stored"):
        monkeypatch.setattr(policy, name, refuse)


def authorize(token: str, arn: str = ARN) -> dict[str, Any]:
    return authorizer.authorize(f"Bearer {token}", arn)


def test_the_stored_plan_equals_a_fresh_plan_after_every_lifecycle_action(api: Api) -> None:
    first = create(api, ["contacts.readonly"])
    agency = create(api, ["locations.readonly"], owner="agencies/ag1")
    assert assert_every_live_token_holds_a_fresh_plan() == 2
    steps = [
        lambda: api.patch(f"/private-integrations/{first.integration_id}", {"scopes": ALL_LOCATION_SCOPES}),
        lambda: rotate(api, first.integration_id, "later"),
        lambda: api.patch(
            f"/private-integrations/{first.integration_id}", {"scopes": ["conversations.readonly"]}
        ),
        lambda: cancel(api, first.integration_id),
        lambda: rotate(api, first.integration_id, "later"),
        lambda: expire_now(api, first.integration_id),
        lambda: rotate(api, first.integration_id, "now"),
        lambda: api.patch(f"/private-integrations/{first.integration_id}", {"name": "renamed"}),
        lambda: api.patch(f"/private-integrations/{agency.integration_id}", {"scopes": ALL_AGENCY_SCOPES}),
        lambda: rotate(api, agency.integration_id, "now"),
    ]
    for step in steps:
        response = step()
        assert response.status_code == 200, response.body
        assert assert_every_live_token_holds_a_fresh_plan() >= 2


def test_the_authorizer_plans_nothing_for_a_current_token(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning is refused once the tokens exist, yet every kind of token authorizes (from its item)."""
    location = create(api, ALL_LOCATION_SCOPES)
    agency = create(api, ALL_AGENCY_SCOPES, owner="agencies/ag1")
    refuse_planning(monkeypatch)
    for token in (location.token, agency.token):
        answer = authorize(token)
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    document = authorize(location.token)["policyDocument"]
    assert iam.evaluate(document, ARN.replace("GET/contacts/x1", "GET/locations/loc1/customValues"))
    assert not iam.evaluate(document, ARN.replace("GET/contacts/x1", "GET/locations/loc2/customValues"))


def test_the_stored_plan_is_prefix_free_and_serves_every_api(api: Api) -> None:
    issued = create(api, ["locations.readonly"])
    other_api = "arn:aws:execute-api:eu-west-1:999999999999:downstream1/prod/GET/locations/loc1"
    document = authorize(issued.token, other_api)["policyDocument"]
    assert iam.evaluate(document, other_api)
    assert not iam.evaluate(document, ARN.replace("GET/contacts/x1", "GET/locations/loc1"))
    item = TokenModel.get(token_text.digest(issued.token))
    assert all(not glob.startswith("arn:") for glob in stored_policy.decode(item.policy)[0])


def widgets_arn() -> str:
    return ARN.replace("GET/contacts/x1", "GET/widgets/w1")


def test_a_catalog_change_is_detected_planned_on_request_then_replanned(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    issued = create(api, ["contacts.readonly"])
    also = create(api, ["locations.readonly"], owner="agencies/ag1")
    gone = create(api, ["contacts.readonly"])
    assert api.delete(f"/private-integrations/{gone.integration_id}").status_code == 204
    assert not iam.evaluate(authorize(issued.token)["policyDocument"], widgets_arn())
    extra = tmp_path / "widgets.tsv"
    extra.write_text("scope\tmethod\tpath\tlevels\ncontacts.readonly\tGET\t/widgets/:widgetId\tlocation\n")
    before = stored_policy.version()
    with changed_catalog(monkeypatch, extra):
        assert stored_policy.version() != before  # a new catalog version: every stored plan is stale
        planned: list[bool] = []
        real = authorizer.emf.authorization

        def counted(outcome: str, ms: float, wrote: bool, was_planned: bool = False) -> None:
            planned.append(was_planned)
            real(outcome, ms, wrote, was_planned)

        monkeypatch.setattr(authorizer.emf, "authorization", counted)
        # Before the replan: the stale item is planned on the request (correct: the new route opens).
        assert iam.evaluate(authorize(issued.token)["policyDocument"], widgets_arn())
        assert planned == [True]
        counts = replan.replan()
        assert counts == {"stale": 2, "replanned": 2}
        assert assert_every_live_token_holds_a_fresh_plan() == 2
        assert replan.replan() == {}  # nothing left: a second run reads nothing stale
        assert iam.evaluate(authorize(issued.token)["policyDocument"], widgets_arn())
        assert planned == [True, False]
        assert authorize(also.token)
        assert planned == [True, False, False]


def test_a_damaged_stored_policy_is_planned_again_never_widened(api: Api) -> None:
    issued = create(api, ["locations.readonly"])
    item = TokenModel.get(token_text.digest(issued.token))
    item.update(actions=[TokenModel.policy.set(b"not zlib at all")])
    document = authorize(issued.token, ARN.replace("GET/contacts/x1", "GET/locations/loc1"))["policyDocument"]
    assert iam.evaluate(document, ARN.replace("GET/contacts/x1", "GET/locations/loc1"))
    assert not iam.evaluate(document, ARN.replace("GET/contacts/x1", "GET/locations/loc2"))
    assert not iam.evaluate(document, ARN)  # contacts: not its scope


@pytest.mark.parametrize("damage", ["truncated", "padded"])
def test_a_cut_or_padded_stored_policy_is_planned_again_never_wider(api: Api, damage: str) -> None:
    """An attacker's review: the first bytes of a blob decoded without error to the Allow globs alone
    (`GET/conversations/*`, its Deny cut off), admitting another location's recording."""
    scopes = ["conversations.readonly", "conversations/message.readonly"]
    issued = create(api, scopes)
    item = TokenModel.get(token_text.digest(issued.token))
    blob = item.policy
    damaged = blob[:13] if damage == "truncated" else blob + b"\x00garbage"
    item.update(actions=[TokenModel.policy.set(damaged)])
    other = ARN.replace("GET/contacts/x1", "GET/conversations/messages/m1/locations/loc2/recording")
    assert not iam.evaluate(authorize(issued.token, other)["policyDocument"], other)
    with pytest.raises(ValueError, match="unreadable stored policy"):
        stored_policy.decode(damaged)


def test_replan_never_overwrites_an_edit_that_landed_meanwhile(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    issued = create(api, ["contacts.readonly"])
    extra = tmp_path / "widgets.tsv"
    extra.write_text("scope\tmethod\tpath\tlevels\ncontacts.readonly\tGET\t/widgets/:widgetId\tlocation\n")
    with changed_catalog(monkeypatch, extra):
        stale = list(TokenModel.scan())
        edited = api.patch(f"/private-integrations/{issued.integration_id}", {"scopes": ["contacts.write"]})
        assert edited.status_code == 200
        # The scan read the item before the edit; its rewrite must lose to the edit's own plan.
        with monkeypatch.context() as scan:
            scan.setattr(TokenModel, "scan", classmethod(lambda cls, **kwargs: iter(stale)))
            assert replan.replan() == {"stale": 1, "changedMeanwhile": 1}
    item = TokenModel.get(token_text.digest(issued.token))
    assert item.scopes == ["contacts.write"]


def test_a_token_deleted_meanwhile_is_not_recreated(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    issued = create(api, ["contacts.readonly"])
    TokenModel.get(token_text.digest(issued.token)).update(actions=[TokenModel.policy_version.set("old")])
    stale = list(TokenModel.scan())
    assert api.delete(f"/private-integrations/{issued.integration_id}").status_code == 204
    with monkeypatch.context() as scan:
        scan.setattr(TokenModel, "scan", classmethod(lambda cls, **kwargs: iter(stale)))
        assert replan.replan() == {"stale": 1, "changedMeanwhile": 1}
    assert list(TokenModel.scan()) == []
    assert IntegrationModel.count() == 0


def test_the_largest_token_item_fits_one_read_unit(api: Api) -> None:
    """Every scope a location token can hold, pinned to a 20-character id, and every agency scope: one
    authorization stays one 4 KB read unit (bench prints the exact figure)."""
    location = create(api, ALL_LOCATION_SCOPES)
    agency = create(api, ALL_AGENCY_SCOPES, owner="agencies/ag1")
    for issued in (location, agency):
        raw = TokenModel.get(token_text.digest(issued.token)).serialize()
        assert read_units(raw) == 1, item_bytes(raw)
