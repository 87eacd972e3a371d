"""IAM's evaluation of an execute-api policy, as API Gateway applies a Lambda authorizer's answer:
used by the emulated gateway (local/gateway.py) and the tests, never deployed."""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.lru_cache(maxsize=512)
def _matcher(resources: tuple[str, ...]) -> re.Pattern[str]:
    """IAM resource matching, one regex per statement: `*` any characters (including '/'), `?` one."""
    globs = (re.escape(r).replace(r"\*", ".*").replace(r"\?", ".") for r in resources)
    return re.compile("|".join(f"(?:{g})" for g in globs), re.DOTALL)


def glob_matches(pattern: str, text: str) -> bool:
    return _matcher((pattern,)).fullmatch(text) is not None


def evaluate(policy_document: dict[str, Any], resource_arn: str) -> bool:
    """IAM evaluation for execute-api: an explicit Deny wins, then any Allow, else denied."""
    allowed = False
    for statement in policy_document["Statement"]:
        if _matcher(tuple(statement["Resource"])).fullmatch(resource_arn):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed
