"""The SendGrid backend keeps one connection open across requests, over real HTTP through the real client."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mailer.mail import keepalive
from mailer.mail.senders import SendError
from mailer.mail.sendgrid import SendGridSender
from mailer.standin import Faults, StandIn

from .test_senders import make_batch


class _Counting(BaseHTTPRequestHandler):
    """Answers 202 to every POST; the server counts the connections it accepted and the requests."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(self.client_address)
        close = self.server.mode == "close"
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.send_header("X-Message-Id", f"m{len(self.server.requests)}")
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        # "drop": closes after answering without saying so, as a server ending an idle connection does
        self.close_connection = close or self.server.mode == "drop"

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def shutdown_request(self, request):
        super().shutdown_request(request)
        self.closed.release()  # the connection is closed on the server's side


@pytest.fixture
def server():
    httpd = _Server(("127.0.0.1", 0), _Counting)
    httpd.requests, httpd.mode, httpd.closed = [], "keep", threading.Semaphore(0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _sender(server):
    return SendGridSender("SG.test", f"http://127.0.0.1:{server.server_port}", timeout=5.0)


def test_a_workers_requests_share_one_connection(server):
    sender = _sender(server)
    ids = [sender.send(make_batch(3)).message_id for _ in range(5)]
    assert ids == ["m1", "m2", "m3", "m4", "m5"]
    assert len(set(server.requests)) == 1  # one client port: one connection for all five


@pytest.mark.parametrize("mode", ["close", "drop"])
def test_a_connection_the_server_closed_is_opened_again(server, mode):
    server.mode = mode
    sender = _sender(server)
    for _ in range(3):
        assert sender.send(make_batch(2)).status == "202"
        assert server.closed.acquire(timeout=10)  # closed before the next request is made
    assert len(server.requests) == 3 and len(set(server.requests)) == 3


def test_each_thread_has_its_own_connection(server):
    sender, errors = _sender(server), []

    def send():
        try:
            for _ in range(5):
                sender.send(make_batch(2))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(server.requests) == 20
    assert len(set(server.requests)) == 4


def test_after_a_failure_the_next_request_opens_a_new_connection():
    with StandIn(api_key="SG.test", faults=Faults()) as standin:
        sender = SendGridSender("SG.test", standin.url, timeout=5.0)
        sender.send(make_batch(1))
        standin.faults.push("drop")  # accepted, then the connection cut before the answer
        with pytest.raises(SendError) as lost:
            sender.send(make_batch(1))
        assert lost.value.kind == SendError.UNKNOWN
        assert sender.send(make_batch(1)).status == "202"
        assert len(standin.accepted()) == 3


def test_a_proxy_in_the_environment_is_honoured(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "bypassed.example")
    assert not keepalive.direct("https://api.sendgrid.com")
    assert keepalive.direct("https://bypassed.example")
    assert keepalive.direct("http://127.0.0.1:8025")  # no http proxy named
    sender = SendGridSender("SG.test", "https://api.sendgrid.com", timeout=5.0)
    assert "_make_request" not in vars(sender._mail_send)  # urllib's own path, through the proxy
