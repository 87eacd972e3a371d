"""The local data between runs: every table as DynamoDB JSON in one file, restored on start, saved
periodically and on stop."""

from __future__ import annotations

import json
import os
import threading
from base64 import b64decode, b64encode
from pathlib import Path
from typing import Any

from local.demo import ROOT


def data_file() -> Path:
    return Path(os.environ.get("PI_DATA_DIR") or ROOT / ".local-data") / "dynamodb.json"


def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])


def _encode(value: Any) -> Any:
    # Binary attributes ("B"/"BS") are bytes in boto3's answers; JSON carries them as base64.
    if isinstance(value, bytes):
        return {"$base64": b64encode(value).decode()}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    return b64decode(value["$base64"]) if set(value) == {"$base64"} else value


def save_data(prefix: str) -> int:
    """Every item of this stage's tables, through DynamoDB's own API (scans, so the moto server's lock
    is taken per request, never held across the snapshot). Written to a temporary file and renamed, so
    a crash mid-save leaves the previous snapshot whole. Returns the number of items."""
    client = _dynamodb()
    tables: dict[str, list[dict[str, Any]]] = {}
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if name.startswith(prefix):
                scans = client.get_paginator("scan").paginate(TableName=name, ConsistentRead=True)
                tables[name[len(prefix) :]] = [item for scan in scans for item in scan["Items"]]
    target = data_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps({"tables": tables}, default=_encode), encoding="utf-8")
    os.replace(partial, target)
    return sum(len(items) for items in tables.values())


def restore_data(prefix: str) -> int:
    """Put the saved items back (over the directory file's, so changed permissions survive too)."""
    saved = json.loads(data_file().read_text(encoding="utf-8"), object_hook=_decode)
    client = _dynamodb()
    count = 0
    for short_name, items in saved["tables"].items():
        for start in range(0, len(items), 25):
            pending: dict[str, Any] = {
                prefix + short_name: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            }
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            count += len(items[start : start + 25])
    return count


class PeriodicSave(threading.Thread):
    """Saves every PI_SAVE_INTERVAL_SECONDS (default 30), so a crash loses at most that much."""

    def __init__(self, prefix: str, interval: float) -> None:
        super().__init__(name="periodic-save", daemon=True)
        self.prefix, self.interval = prefix, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                save_data(self.prefix)
            except Exception as error:  # a failed save must not stop the server; the next one retries
                print(f"Could not save the local data ({type(error).__name__}: {error})", flush=True)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


def restore_or_start_empty(prefix: str) -> str:
    """Restores the previous run's data unless PI_FRESH is set; the banner's line about the data."""
    where = data_file()
    if os.environ.get("PI_FRESH", "") not in ("", "0"):
        return f"{where} (FRESH: started empty; the saved data is replaced at the next save)"
    if not where.exists():
        return f"{where} (none yet: started empty)"
    print(f"  restoring the previous run's data from {where} ...", flush=True)
    try:
        count = restore_data(prefix)
    except Exception as error:
        raise SystemExit(
            f"Could not restore {where} ({type(error).__name__}: {error}). "
            "Start empty with `make run FRESH=1` (that replaces the saved data)."
        ) from None
    return f"{where} (restored {count} items)"
