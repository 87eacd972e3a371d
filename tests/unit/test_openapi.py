"""openapi.yaml is a valid OpenAPI document and lists exactly the app's routes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_openapi_document_is_valid_and_matches_the_routes() -> None:
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    validate(document)
    documented = {
        (method.upper(), _shape(path))
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    from app import app

    served = {(method, _shape(path)) for path, methods in app.routes.items() for method in methods}
    assert documented == served
