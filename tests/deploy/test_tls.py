"""hypercorn.toml with a certificate, as docs/DEPLOY.md serves without a proxy: a real
hypercorn process with a self-signed certificate made here, QUARTAPP_ENV=production.

HTTPS answers with HSTS and without a Server header, every cookie is Secure, the live
websocket works over wss, cleartext gets no answer, and hypercorn's access log, once turned
on, prints neither query strings nor cookies and cannot be made to print a forged line.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from quartapp.security.headers import HSTS
from tests.conftest import Databases
from tests.deploy.certificates import Certificate, make_self_signed
from tests.live.servers import (
    CSRF_RE,
    PASSWORD,
    START_TIMEOUT,
    Server,
    database_environment,
    next_message,
    start,
)

PRODUCTION = {
    "QUARTAPP_ENV": "production",
    "SITE_URL": "https://localhost",
    "SECRET_KEY": "tls-test-secret-key-" + "y" * 40,
    "ALLOWED_HOSTS": "127.0.0.1",
}
SESSION_COOKIE = "__Host-quartapp_session"
AUTH_COOKIE = "__Host-quartapp_auth"


@dataclass
class TLSServer:
    server: Server
    certificate: Certificate

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> tuple[int, Message, str]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.server.port, context=self.certificate.client_context(), timeout=10
        )
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            connection.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.server.process.poll() is not None:
                pytest.fail(
                    f"hypercorn exited with {self.server.process.returncode}:\n{self.log()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.request("GET", "/healthz")[0] == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"no HTTPS answer from /healthz in {START_TIMEOUT}s:\n{self.log()}")

    def log(self) -> str:
        return self.server.log()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[TLSServer]:
    folder = tmp_path_factory.mktemp("tls")
    certificate = make_self_signed(folder)
    database = databases.clone(folder)  # the module's own: it outlives each test
    options = ["--certfile", str(certificate.certfile), "--keyfile", str(certificate.keyfile)]
    options += ["--access-logfile", "-"]
    environment = {**database_environment(database, folder / "instance"), **PRODUCTION}
    server = TLSServer(start("tls", folder, environment, options), certificate)
    try:
        server.wait_ready()
        yield server
    finally:
        server.server.stop()
        databases.release(database)
        print(f"----- hypercorn with TLS -----\n{server.log()}")


def cookies_set(headers: Message) -> dict[str, str]:
    """Each cookie's name and its whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in headers.get_all("Set-Cookie") or []}


def test_https_answers_with_hsts_and_no_server_header(tls: TLSServer) -> None:
    status, headers, _ = tls.request("GET", "/")
    assert status == 200
    assert headers["Strict-Transport-Security"] == HSTS
    assert "Server" not in headers


def test_every_cookie_is_secure_in_production(tls: TLSServer) -> None:
    status, headers, page = tls.request("GET", "/register")
    assert status == 200
    session_cookie = cookies_set(headers)[SESSION_COOKIE]
    match = CSRF_RE.search(page)
    assert match is not None
    form = {
        "csrf_token": match.group(1),
        "username": "tlsuser",
        "email": "tlsuser@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    status, headers, page = tls.request(
        "POST",
        "/register",
        {
            "Cookie": session_cookie.split(";", 1)[0],
            "Content-Type": "application/x-www-form-urlencoded",
        },
        urlencode(form),
    )
    assert status == 303, page
    cookies = cookies_set(headers)
    assert {SESSION_COOKIE, AUTH_COOKIE} <= set(cookies)
    for name, line in [(SESSION_COOKIE, session_cookie), *cookies.items()]:
        attributes = {part.strip().lower() for part in line.split(";")[1:]}
        assert "secure" in attributes, f"{name} is not Secure: {line}"
        assert "httponly" in attributes, f"{name} is not HttpOnly: {line}"
        # What browsers require of a __Host- cookie, or they drop it (ASVS 3.3.1).
        assert name.startswith("__Host-")
        assert "path=/" in attributes
        assert not any(attribute.startswith("domain") for attribute in attributes)


def test_a_request_for_another_host_is_refused(tls: TLSServer) -> None:
    for path in ("/", "/static//site.css", "/ws"):
        status, headers, body = tls.request("GET", path, {"Host": "evil.example"})
        assert status == 400, path
        assert "Location" not in headers
        assert "host name" in body
    assert "Traceback" not in tls.log()


async def test_the_live_websocket_works_over_wss(tls: TLSServer) -> None:
    async with connect(
        f"wss://127.0.0.1:{tls.server.port}/ws",
        origin=Origin(tls.origin),
        ssl=tls.certificate.client_context(),
        open_timeout=5,
        close_timeout=2,
        proxy=None,
    ) as socket_:
        await socket_.send(json.dumps({"since": 0}))
        await socket_.send('{"type": "ping"}')
        while (await next_message(socket_, 5)).get("type") != "pong":
            pass


def test_cleartext_gets_no_answer(tls: TLSServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", tls.server.port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            connection.getresponse()
    finally:
        connection.close()


def test_the_access_log_shows_no_query_cookie_or_forged_line(tls: TLSServer) -> None:
    secret = "query-secret-4e1f"
    cookie = "cookie-secret-9a7c"
    status, _, _ = tls.request(
        "GET",
        f"/login?next=/{secret}",
        {"Cookie": f"{SESSION_COOKIE}={cookie}", "Referer": f"https://x.example/?{secret}"},
    )
    assert status == 200
    status, _, _ = tls.request("GET", "/nothing%0Aforged%20line")
    assert status == 404
    deadline = time.monotonic() + 5
    while '"GET /nothing' not in tls.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker writes its log lines a moment after answering

    log = tls.log()
    access_lines = [line for line in log.splitlines() if '"GET /login 1.1" 200' in line]
    assert access_lines, f"no hypercorn access log line for /login:\n{log}"
    assert secret not in log
    assert cookie not in log
    assert '"GET /nothing\\nforged line 1.1" 404' in log
    assert not any(line.startswith("forged") for line in log.splitlines())


def test_a_certificate_the_client_does_not_trust_is_refused(tls: TLSServer, tmp_path: Path) -> None:
    """The negative control of the tests above: the client really checks the certificate."""
    stranger = make_self_signed(tmp_path)
    connection = http.client.HTTPSConnection(
        "127.0.0.1", tls.server.port, context=stranger.client_context(), timeout=5
    )
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            connection.request("GET", "/healthz")
    finally:
        connection.close()
