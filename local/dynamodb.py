"""The local DynamoDB `make run` serves on: moto in server mode in this process (the default), or
Amazon's DynamoDB Local (`make run DB=dynamodb-local`, a JVM child process)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from local.demo import prepare_environment


def _serialized_moto_server() -> Any:
    """moto's threaded server, with one request at a time inside moto.

    moto's DynamoDB is not isolated between threads: a transaction that fails its conditions rolls back
    by restoring a copy of the whole table taken when it started, wiping what other requests committed
    meanwhile. DynamoDB serializes conflicting writes itself; here one lock does (local runs only).
    """

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serialized(environ: Any, start_response: Any) -> Any:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


ENGINES = {"moto": "moto server", "dynamodb-local": "DynamoDB Local"}


def engine() -> str:
    """PI_DB (`make run DB=…`): "moto" (the default) or "dynamodb-local"."""
    chosen = os.environ.get("PI_DB") or "moto"
    if chosen not in ENGINES:
        raise SystemExit(f"DB={chosen} is not an engine here: use one of {', '.join(ENGINES)}.")
    return chosen


class _Running:
    """A DynamoDB Local someone else started (PI_DYNAMODB_LOCAL_ENDPOINT): used, never stopped."""

    def stop(self) -> None:
        pass


def start_embedded_dynamodb() -> Any:
    """The engine on a free loopback port; sets AWS_ENDPOINT_URL_DYNAMODB. Call before chalicelib.
    Returns what `stop()` ends: moto's server thread, or DynamoDB Local's JVM."""
    prepare_environment()
    if engine() == "dynamodb-local":
        from local.dynamodb_local import DynamoDBLocal, NotInstalled

        shared = os.environ.get("PI_DYNAMODB_LOCAL_ENDPOINT")  # the tests' one JVM per session
        if shared:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = shared
            return _Running()
        try:
            local = DynamoDBLocal()
        except NotInstalled as error:
            raise SystemExit(str(error)) from None
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local.endpoint
        return local
    # moto's own request log is noise here; chalice local still logs each API request.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = _serialized_moto_server()
    moto.start()
    host, moto_port = moto.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://{host}:{moto_port}"
    return moto
