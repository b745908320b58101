"""The SendGrid backend over real HTTP against the stand-in: every answer becomes the right kind of outcome."""

import logging
import socket

import pytest

from mailer.mail.senders import SendError
from mailer.mail.sendgrid import SendGridSender, build_payload, classify
from mailer.standin import Faults, StandIn, validate

from .test_senders import make_batch


@pytest.fixture
def standin():
    with StandIn(api_key="SG.test", faults=Faults(), keep_payloads=True) as s:
        yield s


def _sender(standin, key="SG.test", timeout=5.0):
    return SendGridSender(key, standin.url, timeout=timeout)


def test_every_request_is_valid_by_sendgrids_rules(standin):
    batch = make_batch(5)
    assert validate(build_payload(batch)) == []
    assert validate(build_payload(batch, sandbox=True)) == []
    result = _sender(standin).send(batch)
    [record] = standin.accepted()
    assert result.message_id == record["message_id"]
    payload = record["payload"]
    assert payload == build_payload(batch)  # what we built arrives whole, Korean included
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]
    assert payload["from"] == {"email": "news@example.com", "name": "서울 레저"}
    assert all(
        isinstance(v, str) for p in payload["personalizations"] for v in p["custom_args"].values()
    )
    assert payload["categories"] == ["digest"]
    # shared once per request; SendGrid applies them to every personalization
    assert payload["headers"] == {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert payload["custom_args"] == {"issue_id": "3", "batch_id": "7"}
    assert all("List-Unsubscribe-Post" not in p["headers"] for p in payload["personalizations"])


def test_the_clients_debug_log_holds_no_address_or_link(standin, caplog):
    """python_http_client logs every request body at DEBUG: ours says only its size."""
    batch = make_batch(3)
    with caplog.at_level(logging.DEBUG, logger="python_http_client"):
        _sender(standin).send(batch)
    logged = caplog.text
    assert "POST Request" in logged and "bytes of JSON" in logged
    private = [r.email for r in batch.recipients] + [
        link for r in batch.recipients for link in r.substitutions.values()
    ]
    assert not [p for p in private if p in logged]
    assert standin.accepted()[0]["payload"] == build_payload(batch)


def test_debug_logging_shows_neither_the_api_key_nor_the_body(standin, capsys):
    """At DEBUG, the client would log each request's headers (the API key among them): kept quiet."""
    from mailer.config import Settings
    from mailer.logs import configure

    batch = make_batch(2)
    configure(Settings(_env_file=None), logging.DEBUG)
    try:
        logging.getLogger("mailer.test").debug("debug lines are written")
        _sender(standin, key="SG.test").send(batch)
    finally:
        configure(Settings(_env_file=None))
    written = capsys.readouterr().err
    assert "debug lines are written" in written
    assert "SG.test" not in written and batch.recipients[0].email not in written


def test_429_is_retried_at_the_reset_time(standin):
    standin.faults.push("429")
    with pytest.raises(SendError) as caught:
        _sender(standin).send(make_batch())
    assert caught.value.kind == SendError.TRANSIENT and 0 <= caught.value.retry_after <= 2
    assert standin.recipients() == []


@pytest.mark.parametrize("fault", ["500", "503"])
def test_server_errors_are_transient(standin, fault):
    standin.faults.push(fault)
    with pytest.raises(SendError) as caught:
        _sender(standin).send(make_batch())
    assert caught.value.kind == SendError.TRANSIENT and caught.value.retry_after is None


def test_an_answer_dropped_after_accepting_is_unknown(standin):
    standin.faults.push("drop")
    with pytest.raises(SendError) as caught:
        _sender(standin).send(make_batch())
    assert caught.value.kind == SendError.UNKNOWN
    assert len(standin.recipients()) == 3  # it was accepted: resending blindly would duplicate


def test_a_timeout_is_unknown(standin):
    standin.slow_seconds = 2.0
    standin.faults.push("slow")
    with pytest.raises(SendError) as caught:
        _sender(standin, timeout=0.3).send(make_batch())
    assert caught.value.kind == SendError.UNKNOWN


def test_a_refused_connection_was_never_sent():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(SendError) as caught:
        SendGridSender("SG.test", f"http://127.0.0.1:{port}", timeout=2).send(make_batch())
    assert caught.value.kind == SendError.TRANSIENT


def test_a_wrong_key_is_an_auth_error(standin):
    with pytest.raises(SendError) as caught:
        _sender(standin, key="SG.wrong").send(make_batch())
    assert caught.value.kind == SendError.AUTH and "401" in str(caught.value)
    assert "SG.wrong" not in str(caught.value)  # the key never reaches a log line


def test_a_400_names_the_refused_recipients(standin):
    batch = make_batch(3)
    bad = batch.recipients[1].__class__(101, "not an address", {}, {}, {})
    batch.recipients[1] = bad
    with pytest.raises(SendError) as caught:
        _sender(standin).send(batch)
    assert caught.value.kind == SendError.INVALID and caught.value.invalid == (1,)


def test_classify_other_answers():
    assert classify(413, b"{}", {}).kind == SendError.TOO_LARGE
    assert classify(403, b'{"errors":[{"message":"forbidden"}]}', {}).kind == SendError.AUTH
    general = classify(400, b'{"errors":[{"field":"from.email","message":"bad"}]}', {})
    assert general.kind == SendError.PERMANENT and "from.email: bad" in str(general)
    mixed = b'{"errors":[{"field":"personalizations.2.to.0.email","message":"x"},{"field":"subject","message":"y"}]}'
    assert (
        classify(400, mixed, {}).kind == SendError.PERMANENT
    )  # not only recipients: resending would not help


def test_a_mail_past_the_bounce_list_says_so_and_stays_valid(standin):
    import dataclasses

    batch = dataclasses.replace(make_batch(1), bypass_bounces=True)
    payload = build_payload(batch, sandbox=True)
    assert payload["mail_settings"] == {
        "sandbox_mode": {"enable": True},
        "bypass_bounce_management": {"enable": True},
    }
    assert validate(payload) == []
    assert "mail_settings" not in build_payload(make_batch(1))
    _sender(standin).send(batch)
    _sender(standin).send(make_batch(1))
    assert [r["bypass_bounces"] for r in standin.accepted()] == [True, False]


def test_forgetting_a_bounce_is_done_whether_or_not_it_was_listed():
    with StandIn(api_key="SG.test", bounced={"gone+news@example.com"}) as standin:
        sender = _sender(standin)
        sender.forget_bounce("gone+news@example.com")  # 204
        sender.forget_bounce("gone+news@example.com")  # 404: not listed (any more), so done
        assert standin.bounces.deletes() == ["gone+news@example.com"] * 2
        assert standin.bounces.listed() == set()
        assert standin.requests_seen == {"204": 1, "404": 1}
        with pytest.raises(SendError) as refused:
            _sender(standin, key="SG.wrong").forget_bounce("a@example.com")
        assert refused.value.kind == SendError.AUTH
    with pytest.raises(SendError) as down:
        sender.forget_bounce("a@example.com")  # the stand-in is gone: nothing was done
    assert down.value.transient
