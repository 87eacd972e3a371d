"""The Settings > Private Integrations page: a static HTML file, its module script and its stylesheet,
all from this service, so the Content-Security-Policy allows no inline script or style at all."""

from __future__ import annotations

import functools
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.core.errors import NotFound

bp = Blueprint(__name__)
UI = Path(__file__).resolve().parents[2] / "ui"
# name -> Content-Type; nothing else in the folder is served.
ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@functools.cache
def _read(name: str) -> str:
    return (UI / name).read_text(encoding="utf-8")


def _static(name: str, content_type: str) -> Response:
    return Response(
        body=_read(name),
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Content-Security-Policy": POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


@bp.route("/", methods=["GET"], content_types=["application/json", "text/html"])
def settings_page() -> Response:
    return _static("index.html", "text/html; charset=utf-8")


@bp.route("/assets/{name}", methods=["GET"], content_types=["application/json", "text/html"])
def settings_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"No asset '{name}': the page uses {', '.join(sorted(ASSETS))}.")
    return _static(name, ASSETS[name])
