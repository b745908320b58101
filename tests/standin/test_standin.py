"""The SendGrid stand-in, driven over real HTTP by the real `sendgrid` client."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sendgrid
from python_http_client import exceptions as http_errors
from sendgrid.helpers.eventwebhook import EventWebhook

from mailer.standin import Faults, StandIn, parse_spec, sign, validate, verify
from mailer.standin.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    generate_private_key,
    public_key_b64,
)

KEY = "SG.test-key"


def payload(n: int = 3, **overrides) -> dict:
    body = {
        "personalizations": [
            {
                "to": [{"email": f"r{i}@example.com"}],
                "substitutions": {"-unsub-": f"https://x.example/u/{i}"},
                "headers": {"List-Unsubscribe": f"<https://x.example/u/{i}>"},
                "custom_args": {"delivery_id": str(100 + i)},
            }
            for i in range(n)
        ],
        "from": {"email": "news@example.com", "name": "뉴스"},
        "subject": "주간 브리핑",
        "content": [
            {"type": "text/plain", "value": "hi"},
            {"type": "text/html", "value": "<p>hi</p>"},
        ],
        "categories": ["digest", "ko"],
        "custom_args": {"issue": "7"},
    }
    body.update(overrides)
    return body


def client(standin: StandIn, key: str = KEY):
    c = sendgrid.SendGridAPIClient(api_key=key, host=standin.url)
    c.client.timeout = 5
    return c


def send(standin: StandIn, body: dict, key: str = KEY):
    return client(standin, key).client.mail.send.post(request_body=body)


@pytest.fixture
def standin():
    with StandIn(api_key=KEY, faults=Faults()) as s:
        yield s


def fields_of_400(standin, body) -> list[str]:
    with pytest.raises(http_errors.BadRequestsError) as info:
        send(standin, body)
    errors = json.loads(info.value.body)["errors"]
    assert all(set(e) == {"message", "field", "help"} for e in errors)
    return [e["field"] for e in errors]


# mail send


def test_valid_payload_is_accepted_and_recorded(standin):
    response = send(standin, payload(3))
    assert response.status_code == 202 and response.body in (b"", "")
    message_id = response.headers["X-Message-Id"]
    assert message_id
    [record] = standin.accepted()
    assert record["message_id"] == message_id
    assert record["recipients"] == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert record["custom_args"][1] == {"issue": "7", "delivery_id": "101"}
    assert record["subject"] == "주간 브리핑" and record["from"] == "news@example.com"
    assert record["categories"] == ["digest", "ko"] and record["personalizations"] == 3
    assert standin.requests_seen == {"202": 1}


def test_a_body_that_is_not_declared_json_is_415(standin):
    mail = client(standin).client.mail.send
    with pytest.raises(http_errors.HTTPError) as info:
        mail.post(
            request_body=json.dumps(payload(1)), request_headers={"Content-Type": "text/plain"}
        )
    assert info.value.status_code == 415
    assert (
        json.loads(info.value.body)["errors"][0]["message"]
        == "Content-Type should be application/json."
    )
    # a charset parameter is fine, as from SendGrid's own clients
    mail.post(
        request_body=json.dumps(payload(1)),
        request_headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert standin.requests_seen == {"415": 1, "202": 1} and len(standin.accepted()) == 1


def test_recipients_repeat_when_accepted_twice(standin):
    send(standin, payload(2))
    send(standin, payload(1))
    assert sorted(standin.recipients()) == ["r0@example.com", "r0@example.com", "r1@example.com"]


def test_the_bounce_list_answers_deletes_and_sees_the_bypass():
    with StandIn(api_key=KEY, bounced={"Gone@example.com"}) as standin:
        bounces = client(standin).client.suppression.bounces
        assert bounces._("gone@example.com").delete().status_code == 204
        with pytest.raises(http_errors.NotFoundError):
            bounces._("gone@example.com").delete()
        with pytest.raises(http_errors.UnauthorizedError):
            client(standin, "SG.wrong").client.suppression.bounces._("x@example.com").delete()
        assert standin.bounces.deletes() == ["gone@example.com"] * 2
        assert standin.bounces.listed() == set()
        send(standin, payload(1, mail_settings={"bypass_bounce_management": {"enable": True}}))
        send(standin, payload(1))
        assert [r["bypass_bounces"] for r in standin.accepted()] == [True, False]


def test_wrong_key_is_refused(standin):
    with pytest.raises(http_errors.UnauthorizedError) as info:
        send(standin, payload(), key="SG.wrong")
    assert json.loads(info.value.body)["errors"][0]["message"] == (
        "The provided authorization grant is invalid, expired, or revoked"
    )
    assert standin.accepted() == [] and standin.requests_seen == {"401": 1}


def _dup(body):
    body["personalizations"][2]["to"][0]["email"] = "R0@example.com"
    return body


def _bad_email(body):
    body["personalizations"][1]["to"][0]["email"] = "not an@example.com"
    return body


def _reserved(body):
    body["personalizations"][0]["headers"]["To"] = "x@example.com"
    return body


@pytest.mark.parametrize(
    "body, field",
    [
        (_bad_email(payload()), "personalizations.1.to.0.email"),
        (_dup(payload()), "personalizations.2"),
        (payload(1001), "personalizations"),
        (payload(categories=[f"c{i}" for i in range(11)]), "categories"),
        (payload(categories=["digest", "다이제스트"]), "categories.1"),
        (payload(custom_args={"issue": 7}), "custom_args.issue"),
        (_reserved(payload()), "personalizations.0.headers.To"),
        (
            payload(
                content=[
                    {"type": "text/html", "value": "<p>x</p>"},
                    {"type": "text/plain", "value": "x"},
                ]
            ),
            "content",
        ),
        (payload(subject=None), "subject"),
    ],
    ids=[
        "bad-email",
        "duplicate",
        "1001-personalizations",
        "11-categories",
        "non-ascii-category",
        "non-string-custom-arg",
        "reserved-header",
        "html-first",
        "no-subject",
    ],
)
def test_invalid_payloads_get_400_with_field(standin, body, field):
    assert field in fields_of_400(standin, body)
    assert standin.accepted() == []


def test_limits_still_apply_when_validation_is_sampled_out():
    with StandIn(api_key=KEY, validate_sample=0.0) as s:
        assert send(s, payload(1, subject=None)).status_code == 202  # not validated: accepted
        assert "personalizations" in fields_of_400(s, payload(1001))
        assert "personalizations.2" in fields_of_400(s, _dup(payload()))


def test_sandbox_mode_validates_but_does_not_accept(standin):
    response = send(standin, payload(mail_settings={"sandbox_mode": {"enable": True}}))
    assert response.status_code == 200 and standin.accepted() == []


def test_oversized_body_is_413(standin):
    from mailer.standin import server

    old, server.MAX_BODY_BYTES = server.MAX_BODY_BYTES, 10_000
    try:
        with pytest.raises(http_errors.PayloadTooLargeError):
            send(standin, payload(200))
    finally:
        server.MAX_BODY_BYTES = old


# faults


def test_scripted_429_carries_rate_limit_headers():
    with StandIn(api_key=KEY, faults=Faults(script=["429", "202"])) as s:
        with pytest.raises(http_errors.TooManyRequestsError) as info:
            send(s, payload())
        reset = int(info.value.headers["X-RateLimit-Reset"])
        assert time.time() <= reset <= time.time() + 2
        assert (
            info.value.headers["X-RateLimit-Remaining"] == "0"
            and info.value.headers["X-RateLimit-Limit"]
        )
        assert json.loads(info.value.body)["errors"]
        assert s.accepted() == []
        assert send(s, payload()).status_code == 202
        assert s.requests_seen == {"429": 1, "202": 1}


def test_scripted_500_and_503():
    with StandIn(api_key=KEY, faults=Faults(script=["500", "503"])) as s:
        with pytest.raises(http_errors.InternalServerError):
            send(s, payload())
        with pytest.raises(http_errors.ServiceUnavailableError):
            send(s, payload())
        assert s.accepted() == []


def test_scripted_drop_loses_the_answer_but_accepts_the_message():
    with StandIn(api_key=KEY, faults=Faults(script=["drop"])) as s:
        with pytest.raises(
            (http.client.RemoteDisconnected, urllib.error.URLError, ConnectionError)
        ):
            send(s, payload(2))
        [record] = s.accepted()
        assert record["recipients"] == ["r0@example.com", "r1@example.com"]
        assert s.requests_seen == {"drop": 1}
        assert send(s, payload(1)).status_code == 202  # the server carries on


@pytest.mark.slow  # waits for a client timeout
def test_slow_fault_trips_the_client_timeout():
    with StandIn(api_key=KEY, faults=Faults(script=["slow"]), slow_seconds=1.0) as s:
        c = client(s)
        c.client.timeout = 0.2
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            c.client.mail.send.post(request_body=payload(1))
        time.sleep(
            1.2
        )  # the slow answer has come due: a client that hung up before it has nothing accepted
        assert s.recipients() == [] and s.stats()["accepted"] == 0


def test_fault_spec_parsing_and_seeded_draws():
    assert parse_spec("429:0.1, 500:0.05,503:0.02,drop:0.01,slow:0.02") == [
        ("429", 0.1),
        ("500", 0.05),
        ("503", 0.02),
        ("drop", 0.01),
        ("slow", 0.02),
    ]
    for bad in ("429", "418:0.1", "429:2", "429:0.6,500:0.6", "429:x"):
        with pytest.raises(ValueError):
            parse_spec(bad)
    draws = [Faults("429:0.3,drop:0.2", seed=4).next_outcome() for _ in range(1)]
    a = Faults("429:0.3,drop:0.2", seed=4)
    b = Faults("429:0.3,drop:0.2", seed=4)
    seq = [a.next_outcome() for _ in range(200)]
    assert seq == [b.next_outcome() for _ in range(200)] and draws[0] == seq[0]
    assert {"ok", "429", "drop"} == set(seq) and 40 < seq.count("429") < 80
    scripted = Faults("429:1", script=["202", "drop"])
    assert [scripted.next_outcome() for _ in range(3)] == ["ok", "drop", "429"]


# validation as a pure function


def test_validate_accepts_our_payload_and_names_fields():
    assert validate(payload(1000)) == []
    no_subject = payload(2, subject=None)
    for p in no_subject["personalizations"]:
        p["subject"] = "own subject"
    assert validate(no_subject) == []
    fields = lambda body: [e["field"] for e in validate(body)]
    assert fields(payload(personalizations=[])) == ["personalizations"]
    assert "personalizations.0.to" in fields(
        payload(personalizations=[{"cc": [{"email": "a@b.co"}]}])
    )
    assert "from.email" in fields(payload(**{"from": {"email": "nobody"}}))
    assert "reply_to.email" in fields(payload(reply_to={"email": "a@@b.co"}))
    assert "send_at" in fields(payload(send_at="soon"))
    assert "mail_settings.sandbox_mode.enable" in fields(
        payload(mail_settings={"sandbox_mode": {"enable": 1}})
    )
    assert "content.1.value" in fields(
        payload(content=[{"type": "text/plain", "value": "x"}, {"type": "text/html", "value": ""}])
    )
    assert "categories.0" in fields(payload(categories=["x" * 256]))
    body = payload(1)
    body["personalizations"][0]["substitutions"] = {"-x-": 1}
    assert "personalizations.0.substitutions.-x-" in fields(body)
    body = payload(1)
    body["personalizations"][0]["custom_args"] = {"big": "x" * 10_001}
    assert "personalizations.0.custom_args" in fields(body)
    body = payload(1)
    body["personalizations"][0]["headers"] = {"dkim-SIGNATURE": "x"}
    assert "personalizations.0.headers.dkim-SIGNATURE" in fields(body)
    many = payload(1)
    many["personalizations"][0]["bcc"] = [{"email": f"b{i}@example.com"} for i in range(1000)]
    assert "personalizations" in fields(many)


# out-of-process helpers


def test_record_file_and_control_endpoints(tmp_path):
    record = tmp_path / "sent.jsonl"
    with StandIn(api_key=KEY, record_path=str(record)) as s:
        message_id = send(s, payload(2)).headers["X-Message-Id"]
        lines = [json.loads(line) for line in record.read_text().splitlines()]
        # one line per request: its recipients and the custom_args they share
        assert lines == [
            {
                "message_id": message_id,
                "recipients": ["r0@example.com", "r1@example.com"],
                "custom_args": {"issue": "7"},
            }
        ]
        get = lambda path: json.load(urllib.request.urlopen(s.url + path, timeout=5))
        assert get("/healthz") == {"status": "ok"}
        assert get("/_standin/recipients") == ["r0@example.com", "r1@example.com"]
        assert get("/_standin/stats")["accepted"] == 1
        urllib.request.urlopen(
            urllib.request.Request(s.url + "/_standin/reset", data=b"", method="POST"), timeout=5
        )
        assert get("/_standin/recipients") == [] and s.accepted() == []


@pytest.mark.slow  # starts the stand-in's own process
def test_cli_serves_until_terminated(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key_file = tmp_path / "webhook.pem"
    code = "from mailer.standin.cli import standin; standin()"
    args = [
        sys.executable,
        "-c",
        code,
        "--port",
        str(port),
        "--key-file",
        str(key_file),
        "--fail",
        "429:0.5",
    ]
    env = {**os.environ, "MAILER_SENDGRID_API_KEY": KEY}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("webhook public key: ")
        key = line.split(": ", 1)[1].strip()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.returncode == 0
    # the same key file gives the same public key next time
    from mailer.standin.signing import load_or_create_private_key

    assert public_key_b64(load_or_create_private_key(key_file)) == key
    bad = subprocess.run(
        [sys.executable, "-c", code, "--port", str(port), "--fail", "418:1"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert bad.returncode != 0 and "418" in bad.stderr


# Event Webhook


class Receiver:
    """A tiny webhook endpoint; answers 500 to the first `fail_first` posts, as a flaky app would."""

    def __init__(self, fail_first: int = 0):
        self.posts: list[tuple[str, str, str]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
                with receiver.lock:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1
                    if not failing:
                        receiver.posts.append(
                            (body, self.headers[SIGNATURE_HEADER], self.headers[TIMESTAMP_HEADER])
                        )
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/sendgrid"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def events(self) -> list[dict]:
        with self.lock:
            return [e for body, _, _ in self.posts for e in json.loads(body)]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if len(events) >= n:
                return events
            time.sleep(0.02)
        raise AssertionError(f"only {len(self.events())} of {n} events arrived")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_webhook_posts_signed_events_for_every_recipient(receiver):
    with StandIn(
        api_key=KEY, webhook_url=receiver.url, webhook_interval=0.05, webhook_batch_size=4
    ) as s:
        message_id = send(s, payload(3)).headers["X-Message-Id"]
        events = receiver.wait_for(6)
        public_key = s.public_key_b64()
    assert len(events) == 6 and len(receiver.posts) == 2  # batches of at most 4
    for email in ("r0@example.com", "r1@example.com", "r2@example.com"):
        mine = [e for e in events if e["email"] == email]
        assert [e["event"] for e in mine] == ["processed", "delivered"]
        for e in mine:
            assert (
                e["issue"] == "7" and e["delivery_id"] == "10" + email[1]
            )  # custom_args, flattened
            assert e["sg_message_id"].startswith(message_id + ".") and e["smtp-id"]
            assert e["category"] == ["digest", "ko"] and isinstance(e["timestamp"], int)
    assert len({e["sg_event_id"] for e in events}) == 6
    verifier = EventWebhook(public_key)
    for body, sig, ts in receiver.posts:
        assert verifier.verify_signature(body, sig, ts)
        assert verify(body.encode(), ts, sig, public_key)
        tampered = body.replace("delivered", "bounce", 1).replace("processed", "dropped", 1)
        assert not verifier.verify_signature(tampered, sig, ts)
        assert not verify(tampered, ts, sig, public_key)


def test_webhook_retries_failed_posts_and_bounces_repeatably():
    receiver = Receiver(fail_first=2)
    try:
        with StandIn(
            api_key=KEY, webhook_url=receiver.url, webhook_interval=0.05, bounce_rate=1.0
        ) as s:
            send(s, payload(2))
            events = receiver.wait_for(4)
    finally:
        receiver.close()
    bounces = [e for e in events if e["event"] == "bounce"]
    assert len(bounces) == 2 and all(
        e["type"] == "bounce" and e["status"] == "5.1.1" and e["reason"] for e in bounces
    )
    assert len({e["sg_event_id"] for e in events}) == 4  # retried, not duplicated or lost


def test_soft_bounces_are_bounce_events_of_type_blocked(receiver):
    """As SendGrid sends them: no event is named `blocked`; a soft bounce is a `bounce` of that type."""
    with StandIn(
        api_key=KEY, webhook_url=receiver.url, webhook_interval=0.05, soft_bounce_rate=1.0
    ) as s:
        send(s, payload(2))
        events = receiver.wait_for(4)
    outcomes = [e for e in events if e["event"] != "processed"]
    assert len(outcomes) == 2 and all(
        e["event"] == "bounce" and e["type"] == "blocked" and e["status"].startswith("4.")
        for e in outcomes
    )


def test_sign_matches_the_sendgrid_helper():
    key = generate_private_key()
    body = b'[{"email":"a@example.com","event":"delivered"}]'
    signature = sign(body, "1700000000", key)
    assert EventWebhook(public_key_b64(key)).verify_signature(
        body.decode(), signature, "1700000000"
    )
    assert not verify(body, "1700000001", signature, public_key_b64(key))
    assert not verify(body, "1700000000", "not base64!", public_key_b64(key))


def test_what_is_kept_of_each_request_is_out_of_the_garbage_collectors_sight():
    """A benchmark's stand-in holds a million recipients; if the collector can see them, every full
    collection walks them all and stalls the requests being served."""
    import gc

    with StandIn(api_key=KEY) as s:
        send(s, payload(3))
        for _ in range(
            3
        ):  # each level of nested tuples is let go one collection after the level inside
            gc.collect()
        [record] = s._accepted
        assert not gc.is_tracked(record["recipients"]) and not gc.is_tracked(record["own_args"])
        assert s.accepted()[0]["custom_args"][2] == {"issue": "7", "delivery_id": "102"}
