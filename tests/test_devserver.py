"""`make run`'s server, started for real: banner, session, a token used through chalice local, Ctrl-C."""

from __future__ import annotations

import socket

from tests.dev_server import DevServer


def test_make_run_serves_the_api_and_stops_cleanly() -> None:
    server = DevServer()
    try:
        session = server.printed_session()
        status, me = server.call("GET", "/me", session)
        assert status == 200 and me["user"]["id"] == "user-admin"
        status, created = server.call(
            "POST",
            "/locations/loc-downtown/private-integrations",
            session,
            {"name": "smoke", "scopes": ["locations.readonly"]},
        )
        assert status == 201
        token = created["token"]
        status, location = server.call("GET", "/locations/loc-downtown", token)
        assert status == 200 and location["location"]["id"] == "loc-downtown"
        trace_id = server.last_trace_id
        assert server.call("GET", "/contacts/abc", token)[0] == 403
        status, body = server.call("GET", "/locations/loc-downtown", "pit-nope")
        assert status == 401 and body["error"] == "Unauthorized"
    finally:
        returncode, output = server.stop()
    assert returncode == 0, output
    assert "Stopped the API and the embedded DynamoDB." in output
    # One JSON log line per request, with the trace id the response carried; never a token.
    assert f'"traceId": "{trace_id}"' in output
    assert token not in output and token[4:] not in output
    with socket.socket() as sock:
        # Nothing listens any more (SO_REUSEADDR only tolerates connections left in TIME_WAIT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))
        sock.listen()


def test_ctrl_c_stops_make_run_even_when_started_with_sigint_ignored() -> None:
    """`make run &` from a non-interactive shell inherits SIGINT ignored; Ctrl-C must still stop it."""
    server = DevServer(sigint_ignored=True)
    returncode, output = server.stop()
    assert returncode == 0, output
    assert "Stopped the API and the embedded DynamoDB." in output
