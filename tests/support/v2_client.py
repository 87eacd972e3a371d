"""A third-party app's side of the v2 API in tests: an integration token and checked answers."""

from __future__ import annotations

import json
from typing import Any

from tests.support.lifecycle_helpers import create
from tests.support.platform_docs import response_problems
from tests.support.world import VERSION as V
from tests.support.world import Api

LOCATION_SCOPES = ["locations.readonly", "contacts.readonly", "contacts.write"]


def token_for(api: Api, owner: str = "locations/loc1", scopes: list[str] | None = None) -> str:
    """A new integration's token (contacts and location scopes unless told otherwise)."""
    return create(api, scopes or LOCATION_SCOPES, owner=owner).token


class TokenClient:
    """A third-party app's calls; every answer must conform to the platform's documented response schema."""

    def __init__(self, api: Api, token: str) -> None:
        self.http = api.client.http
        self.token = token

    def __call__(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        all_headers = {"Authorization": f"Bearer {self.token}", **V, **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        response = getattr(self.http, method.lower())(path, headers=all_headers, body=body)
        problems = response_problems(method, path, response.status_code, response.json_body)
        assert not problems, (method, path, response.status_code, problems)
        return response
