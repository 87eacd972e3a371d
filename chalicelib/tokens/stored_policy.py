"""A token's policy as its item keeps it: planned when its scopes are set, read by the authorizer as is.

Planning (policy.py) takes up to a second for a large scope set, so it never runs while a caller waits:
create, every rotation, an edit of the scopes and the replan script (tokens/replan.py) store the plan on
the token item, and the authorizer only decodes it and adds the calling API's prefix. The stored form
is prefix-free (`GET/locations/L1/customValues`), so one item serves every API that attaches the
authorizer.

Compact: the glob texts, compressed with zlib using the catalog file itself as the preset dictionary
(the globs are mostly the catalog's own paths): the largest plan, every scope of a location token,
stores in about 1.1 KB instead of 8.7 KB, so the whole item stays within one 4 KB read unit.

Current: `version()` names the catalog (the platform's file, PI_EXTRA_SCOPES_FILE) and the planner the
plan was made with. A token planned under another version is planned again on its next request (correct,
slow, logged and counted) until the replan script has rewritten it.

Kept light: the authorizer imports this module on every cold start, and never the planner.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.core import config

# Bump when the planner's answer for the same catalog changes (every stored plan becomes stale).
PLANNER_VERSION = "2"
CATALOG_FILE = Path(__file__).parent / "data" / "platform-scopes.tsv"
_SECTIONS = b"\x00"  # between the allow globs and the deny globs (no glob holds a NUL)
_ZDICT_BYTES = 32 * 1024  # zlib's window: a longer preset dictionary is cut to its last 32 KB

Globs = tuple[tuple[str, ...], tuple[str, ...]]  # (allow, deny), each `METHOD/path` without the prefix


@functools.cache
def catalog_source() -> bytes:
    """The catalog as files hold it: the platform's, then a downstream API's extra rows if configured."""
    extra = config.settings.extra_scopes_file
    return CATALOG_FILE.read_bytes() + (b"\n" + Path(extra).read_bytes() if extra else b"")


@functools.cache
def version() -> str:
    """Which catalog and planner a stored plan was made with (16 hex digits)."""
    digest = hashlib.sha256(PLANNER_VERSION.encode() + b"\x00" + catalog_source())
    return digest.hexdigest()[:16]


@functools.cache
def _zdict() -> bytes:
    """zlib's preset dictionary: the catalog's last 32 KB (sliced once, not on every authorization)."""
    return catalog_source()[-_ZDICT_BYTES:]


def encode(allow: Sequence[str], deny: Sequence[str]) -> bytes:
    packer = zlib.compressobj(9, zdict=_zdict())
    text = "\n".join(allow).encode() + _SECTIONS + "\n".join(deny).encode()
    return packer.compress(text) + packer.flush()


def decode(stored: bytes) -> Globs:
    """The inverse of `encode`, under the same catalog (callers check `version()` first); ValueError
    for bytes it did not write."""
    try:
        unpacker = zlib.decompressobj(zdict=_zdict())
        text = unpacker.decompress(stored) + unpacker.flush()
        if not unpacker.eof or unpacker.unused_data or _SECTIONS not in text:
            # Cut short (a truncated blob can decode to fewer Deny globs: a wider policy) or padded.
            raise zlib.error("not one whole stored policy")
        allow, _, deny = text.partition(_SECTIONS)
        return _lines(allow), _lines(deny)
    except (zlib.error, UnicodeDecodeError) as error:
        raise ValueError(f"unreadable stored policy: {error}") from None


def _lines(section: bytes) -> tuple[str, ...]:
    return tuple(section.decode().split("\n")) if section else ()


def api_prefix(method_arn: str) -> str:
    """arn:aws:execute-api:region:account:apiId/stage/METHOD/path -> arn:...:apiId/stage"""
    arn_api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{arn_api}/{stage}"


def document(method_arn: str, allow: Sequence[str], deny: Sequence[str]) -> dict[str, Any]:
    """The IAM policy API Gateway caches for the token: the globs under the calling API stage's prefix.
    Nothing to allow: an explicit Deny of the whole stage."""
    prefix = api_prefix(method_arn)
    statements: list[dict[str, Any]] = []
    if allow:
        statements.append(
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [f"{prefix}/{g}" for g in allow]}
        )
    if deny:
        statements.append(
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [f"{prefix}/{g}" for g in deny]}
        )
    if not statements:
        statements.append({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [f"{prefix}/*"]})
    return {"Version": "2012-10-17", "Statement": statements}
