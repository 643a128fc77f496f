"""Real alert plumbing for tests: an Alertmanager of our own, and sinks that record what arrives.

The shared stack's Alertmanager is never touched: each test module starts its
own ``prometheus-alertmanager`` (the binary ``deploy/local/stack.sh`` runs) on
a free port with a temporary data dir, on the project's real
``deploy/alertmanager/alertmanager.yml`` with only the receiver's address and
the group timings changed. The sinks are real servers: an HTTP endpoint
(stdlib) and an SMTP server (aiosmtpd).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from touchpoints.paths import REPO_ROOT

ALERTMANAGER_CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RECEIVER_ADDRESS = "127.0.0.1:8090"  # where alertmanager.yml sends notifications


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def render_config(receiver_port: int) -> str:
    """alertmanager.yml as the stack runs it, pointed at ``receiver_port``, grouping in 1 s."""
    text = ALERTMANAGER_CONFIG.read_text()
    assert RECEIVER_ADDRESS in text, "alertmanager.yml no longer sends to the receiver"
    text = text.replace(RECEIVER_ADDRESS, f"127.0.0.1:{receiver_port}")
    for setting, value in (("group_wait", "1s"), ("group_interval", "2s")):
        text, count = re.subn(rf"(?m)^(\s+{setting}:) \S+$", rf"\1 {value}", text)
        assert count == 1, f"alertmanager.yml: {setting} not found once"
    return text


class Alertmanager:
    """A running Alertmanager of our own; its API v2."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own local URL
            f"{self.url}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            raw = answer.read()
        return json.loads(raw) if raw else None

    def post(self, *alerts: dict[str, Any]) -> None:
        self._call("POST", "/api/v2/alerts", list(alerts))

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/api/v2/alerts")
        return found

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):  # noqa: S310
                return True
        except OSError:
            return False


@contextmanager
def alertmanager(folder: Path, receiver_port: int) -> Iterator[Alertmanager]:
    """Start ``prometheus-alertmanager`` on the project's config; stop it after."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "alertmanager.yml"
    config.write_text(render_config(receiver_port))
    port = free_port()
    log = (folder / "alertmanager.log").open("ab")
    process = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={folder}/data",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    manager = Alertmanager(port)
    try:
        deadline = time.monotonic() + 20
        while not manager.ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"alertmanager did not start:\n{(folder / 'alertmanager.log').read_text()}"
                )
            time.sleep(0.1)
        yield manager
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class HttpSink:
    """A real HTTP endpoint that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if sink.status < 300:
                    sink.received.append(json.loads(body))
                self.send_response(sink.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def alerts(self) -> list[dict[str, Any]]:
        return [alert for document in self.received for alert in document["alerts"]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpSink:
    """A real SMTP server (aiosmtpd) keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def close(self) -> None:
        self._controller.stop()


def am_alert(
    name: str, *, touchpoint: str, location: str, source: str, severity: str, **labels: str
) -> dict[str, Any]:
    """An alert as Prometheus posts it to Alertmanager's API v2."""
    return {
        "labels": {"alertname": name, "job": "touchpoints-worker", "touchpoint": touchpoint,
                   "location": location, "source": source, "severity": severity, **labels},
        "annotations": {"summary": f"{name} {touchpoint} at {location} ({source})"},
    }  # fmt: skip


class TcpSwitch:
    """A TCP proxy to ``127.0.0.1:target`` that can be switched off: ClickHouse "down"
    for one client without touching the shared server. Off, it closes every new
    connection at once (connections already open are left alone)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.up = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
