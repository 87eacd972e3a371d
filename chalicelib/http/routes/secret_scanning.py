"""GitHub's secret-scanning partner endpoint (docs/secret-scanning.md): no session and no Version
header; the signature over the raw body is the authentication, checked before anything else is read."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.core.errors import Unauthorized
from chalicelib.http import web
from chalicelib.scanning import keys, reports

bp = Blueprint(__name__)
# A report holds at most 1,000 matches (413 beyond); GitHub's URLs are long, so more than the 64 KiB
# of the management API's bodies.
MAX_REPORT_BYTES = 2 * 1024 * 1024
KEY_HEADER, SIGNATURE_HEADER = "GITHUB-PUBLIC-KEY-IDENTIFIER", "GITHUB-PUBLIC-KEY-SIGNATURE"


@bp.route("/secret-scanning/github", methods=["POST"])
def github_report() -> Response:
    request = bp.current_request
    raw = web.raw_body(request, MAX_REPORT_BYTES)
    key_id, signature = (request.headers.get(name.lower()) for name in (KEY_HEADER, SIGNATURE_HEADER))
    if keys.configured() is None:
        # Says nothing GitHub does not know (it publishes the keys); tells an operator what to set.
        raise Unauthorized(
            "No GitHub secret-scanning keys are configured here, so no signature can be checked: set "
            "PI_GITHUB_KEYS_PARAMETER (deployed) or PI_GITHUB_KEYS_FILE (locally)."
        )
    if not keys.verify(key_id, signature, raw):
        raise Unauthorized(
            f"{SIGNATURE_HEADER} must be GitHub's signature of the body by the key named in {KEY_HEADER}."
        )
    matches = reports.parse_report(web.parse_json(raw, list, "a JSON array of secret-scanning matches"))
    return web.json_response(reports.report(matches, own_api=web.api_stage(request)))
