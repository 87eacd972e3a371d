"""The Settings > Private Integrations page: one static HTML file that calls the management API."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path

from chalice import Blueprint, Response

bp = Blueprint(__name__)
PAGE = Path(__file__).resolve().parent.parent / "ui" / "index.html"


@functools.cache
def _page() -> tuple[str, str]:
    """The page and its Content-Security-Policy: only the page's own inline script and style may run."""
    html = PAGE.read_text(encoding="utf-8")

    def digest(block: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode() + "'"

    scripts = " ".join(digest(m) for m in re.findall(r"<script>(.*?)</script>", html, re.S))
    styles = " ".join(digest(m) for m in re.findall(r"<style>(.*?)</style>", html, re.S))
    policy = (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return html, policy


@bp.route("/", methods=["GET"], content_types=["application/json", "text/html"])
def settings_page() -> Response:
    html, policy = _page()
    return Response(
        body=html,
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
