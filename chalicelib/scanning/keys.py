"""GitHub's secret-scanning public keys: where the keys document comes from, and the signature check.

GitHub signs each report with ECDSA (P-256, SHA-256): base64 of the DER signature over the raw body, by
the key named in GITHUB-PUBLIC-KEY-IDENTIFIER. It publishes its keys at its API's
`meta/public_keys/secret_scanning` as `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`.
The service reads that document from configuration, never from GitHub on a request: a file
(PI_GITHUB_KEYS_FILE, locally and in tests) or an SSM parameter (PI_GITHUB_KEYS_PARAMETER, deployed).
It is read on first use and again when a report names a key it does not know, at most once a minute, so
made-up identifiers cost at most one read a minute.

When the document cannot be read (a broken parameter, SSM unreachable), the keys of the last successful
read stay trusted for at most STALE_LIMIT (1 hour) after that read, however many re-reads fail
meanwhile (each is retried at most once a minute); after that every report is refused (401, GitHub
retries) and logged as an error with the `GitHubKeysUnreadable` metric, which AlarmGitHubKeysUnreadable
watches (docs/operations.md "Runbook").
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.core import clock, config, emf

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# `cryptography` is imported where a report is checked, not with the module: it costs the API
# handler's cold start ~30 ms that no other route needs (the same reason sessions import PyJWT late).

log = logging.getLogger("private_integrations.secret_scanning")
REFRESH_INTERVAL = timedelta(minutes=1)
# A key GitHub withdraws must stop being trusted: the document is read again once it is this old, even
# when reports name a key it holds.
MAX_AGE = timedelta(minutes=10)
# How long the last keys read stay trusted while the document cannot be read again.
STALE_LIMIT = timedelta(hours=1)


class _Keys(NamedTuple):
    keys: dict[str, ec.EllipticCurvePublicKey]
    read_at: datetime  # the last attempt, successful or not
    good_at: datetime | None  # the last successful read


# Per source (so a test's own keys file, or a changed setting, starts afresh).
_cache: dict[str, _Keys] = {}
_lock = threading.Lock()


def _source() -> str | None:
    settings = config.settings
    if settings.github_keys_parameter:
        return f"ssm:{settings.github_keys_parameter}"
    if settings.github_keys_file:
        return f"file:{settings.github_keys_file}"
    return None


def configured() -> str | None:
    """Where GitHub's keys come from (`ssm:<parameter>` or `file:<path>`), or None: every report is
    refused until one is set."""
    return _source()


def _read(source: str) -> str:
    kind, _, name = source.partition(":")
    if kind == "file":
        return Path(name).read_text(encoding="utf-8")
    import boto3  # only this route needs SSM

    client = boto3.client("ssm", region_name=config.settings.region)
    return str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def parse_document(text: str) -> dict[str, ec.EllipticCurvePublicKey]:
    """The P-256 keys of a keys document by identifier; entries that are not such a key are skipped
    (and logged), so one bad entry never locks out the others."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    entries = json.loads(text).get("public_keys")
    if not isinstance(entries, list):
        raise ValueError("the keys document has no public_keys list")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in entries:
        fields = entry if isinstance(entry, dict) else {}
        identifier = fields.get("key_identifier")
        try:
            key: Any = serialization.load_pem_public_key(str(fields.get("key")).encode())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
        p256 = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
        if isinstance(identifier, str) and p256:
            keys[identifier] = key
        else:
            log.warning("secret-scanning keys: skipped an entry that is not a P-256 public key")
    return keys


def public_key(identifier: str) -> ec.EllipticCurvePublicKey | None:
    """The key with this identifier, reading the document again if it is unknown (once a minute)."""
    source = _source()
    if source is None:
        log.error("secret-scanning report refused: set PI_GITHUB_KEYS_PARAMETER or PI_GITHUB_KEYS_FILE")
        return None
    with _lock:
        known = _cache.get(source)
        now = clock.now()
        fresh = known is not None and known.good_at is not None and now - known.good_at < MAX_AGE
        if known is not None and fresh and identifier in known.keys:
            return known.keys[identifier]
        if known is not None and now - known.read_at < REFRESH_INTERVAL:
            return _trusted(known, identifier, now, source)
        # The attempt counts, also when it fails: a broken source is not read on every request.
        _cache[source] = _Keys(known.keys if known else {}, now, known.good_at if known else None)
        try:
            keys = parse_document(_read(source))
        except (OSError, ValueError, AttributeError) as error:  # unreadable or unparsable
            # (A throttled or unreachable SSM is raised as it was: 503, and GitHub retries.)
            log.error("secret-scanning keys not read from %s: %s", source, error)
            return _trusted(_cache[source], identifier, now, source)
        _cache[source] = _Keys(keys, now, now)
        log.info("secret-scanning keys read from %s: %d keys", source, len(keys))
        return keys.get(identifier)


def _trusted(
    known: _Keys, identifier: str, now: datetime, source: str
) -> ec.EllipticCurvePublicKey | None:
    """A key of the last successful read while it is at most STALE_LIMIT old; else None, alarmed."""
    if known.good_at is not None and now - known.good_at < STALE_LIMIT:
        return known.keys.get(identifier)
    since = clock.iso(known.good_at) if known.good_at else "never read"
    log.error(
        "secret-scanning keys unreadable for more than %s (last read: %s) from %s: report refused",
        STALE_LIMIT, since, source,
    )  # fmt: skip
    emf.emit({"GitHubKeysUnreadable": (1, emf.COUNT)})
    return None


def verify(identifier: str | None, signature: str | None, body: bytes) -> bool:
    """True when `signature` (base64 DER) is GitHub's ECDSA P-256 SHA-256 signature of `body`."""
    if not identifier or not signature:
        return False
    try:
        der = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    key = public_key(identifier)
    if key is None:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
