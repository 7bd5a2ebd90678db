import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.integrations import inbox
from apps.integrations.providers import SYSTEMS, reset_providers


@pytest.fixture(autouse=True)
def fresh_providers():
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def no_webhook_handlers(monkeypatch):
    """The inbox with no handlers registered: these tests are about how a sandbox outcome
    reaches the inbox, not about what the merchant journey does with it."""
    monkeypatch.setattr(inbox, "_webhook_handlers", defaultdict(list))


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: object


@dataclass
class FakeApi:
    """What the fake provider answers next, and what it was sent."""

    url: str = ""
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0
    requests: list[Received] = field(default_factory=list)

    def answer(self, status: int = 200, payload=None, *, raw: bytes | None = None, delay=0):
        self.status = status
        self.body = raw if raw is not None else json.dumps(payload or {}).encode()
        self.delay = delay


@pytest.fixture
def fake_api():
    """A real HTTP server on 127.0.0.1 (random port) playing every provider."""
    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            api.requests.append(
                Received(
                    method=self.command,
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                )
            )
            if api.delay:
                time.sleep(api.delay)
            try:
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(api.body)))
                self.end_headers()
                self.wfile.write(api.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        do_GET = do_POST = _serve

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_port}/api/"
    yield api
    server.shutdown()
    server.server_close()


def http_settings(settings, url: str, *, timeout: float = 2.0) -> None:
    settings.INTEGRATIONS_MODE = "http"
    settings.PROVIDER_API = {system: {"url": url, "token": f"token-{system}"} for system in SYSTEMS}
    settings.PROVIDER_TIMEOUT_SECONDS = timeout


@pytest.fixture
def http_mode(settings, fake_api):
    http_settings(settings, fake_api.url)
    return fake_api


@pytest.fixture
def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
