"""GitHub's side of the secret-scanning partner protocol, for the tests: a P-256 key pair, the keys
document as GitHub publishes it, and a report signed as GitHub signs it (ECDSA SHA-256, base64 DER over
the raw body, the key named in GITHUB-PUBLIC-KEY-IDENTIFIER)."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PATH = "/secret-scanning/github"


class GitHubKey:
    def __init__(self, identifier: str | None = None) -> None:
        self.identifier = identifier or secrets.token_hex(32)
        self.private = ec.generate_private_key(ec.SECP256R1())

    def entry(self, is_current: bool = True) -> dict[str, Any]:
        pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {"key_identifier": self.identifier, "key": pem.decode(), "is_current": is_current}

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "GITHUB-PUBLIC-KEY-IDENTIFIER": self.identifier,
            "GITHUB-PUBLIC-KEY-SIGNATURE": self.sign(body),
            "Content-Type": "application/json",
        }


def keys_document(*keys: GitHubKey) -> str:
    """The keys document as GitHub serves it at meta/public_keys/secret_scanning (the first is current)."""
    return json.dumps({"public_keys": [key.entry(i == 0) for i, key in enumerate(keys)]})


def write_keys(path: Path, *keys: GitHubKey) -> Path:
    path.write_text(keys_document(*keys))
    return path


def match(
    token: str, url: str = "https://github.com/acme/app/blob/abc/config.py", source: str = "content"
) -> dict[str, str]:
    return {"token": token, "type": "growthhub_private_integration_token", "url": url, "source": source}


def body_of(matches: list[dict[str, Any]]) -> bytes:
    return json.dumps(matches).encode()
