"""Every DynamoDB request the service's code makes, recorded with botocore's event hooks.

One recorder for the tests (reads per authorization), `make bench` and `make scale` (which turn the
recorded parameters into per-key load). It sits on the clients of every model and of the transaction
connection, so it sees what the code asks for, wherever DynamoDB runs (moto in-process or a server).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

READS = ("GetItem", "Query", "Scan", "BatchGetItem")
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


@dataclass(frozen=True)
class DynamoDBCall:
    operation: str  # "GetItem", "TransactWriteItems", ...
    params: dict[str, Any]  # as the code passed them to botocore


@dataclass
class DynamoDBCalls:
    calls: list[DynamoDBCall] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        self.calls.append(DynamoDBCall(model.name, params))

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def count(self, *operations: str) -> int:
        return sum(1 for call in self.calls if call.operation in operations)

    def take(self) -> list[DynamoDBCall]:
        """The calls recorded since the last take, forgetting them."""
        taken, self.calls = self.calls, []
        return taken


def service_clients() -> list[Any]:
    """The botocore clients the service's code uses: one per model's connection, and the transactions'."""
    from chalicelib import tables
    from chalicelib.core import db

    clients = [model._get_connection().connection.client for model in tables.ALL_MODELS]
    clients.append(db._connection().client)
    return list({id(client): client for client in clients}.values())


@contextmanager
def recording() -> Iterator[DynamoDBCalls]:
    recorder = DynamoDBCalls()
    clients = service_clients()
    for client in clients:
        client.meta.events.register("provide-client-params.dynamodb", recorder)
    try:
        yield recorder
    finally:
        for client in clients:
            client.meta.events.unregister("provide-client-params.dynamodb", recorder)
