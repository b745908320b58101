"""A sign-up's work, apart from its page: the limits on confirmation mails, the subscriber, the mail's
outbox row, committed together. The same work for every address (new, pending, subscribed,
unsubscribed, erased, bounced, complained), so that neither the answer nor its time tells them apart.

Both ways in share it: our sign-up page (POST /subscribe) and the form other sites embed (POST
/signup): the same per-client bucket, the same limits on mails, the same wait before the answer."""

from __future__ import annotations

import logging
import time

import anyio
from fastapi import BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from mailer.delivery import counters
from mailer.mail import transactional
from mailer.runtime import Runtime
from mailer.web import page, ratelimit
from mailer.web.deps import settings_of
from subscribers import service, suppression

log = logging.getLogger(__name__)


def sign_up_committed(
    rt: Runtime, limiter: ratelimit.Limiter, address: str, lang: str, ip: str | None
) -> tuple[int, str | None]:
    """(the outbox row to queue, the limit that held its mail back or None), committed. Every sign-up
    writes a row, `skipped` when no mail goes; whether one goes is no business of the caller's page."""
    held = ratelimit.confirmation_held_by(
        limiter, rt.settings, suppression.address_hash(address), ip
    )
    with rt.session() as session:
        subscriber_id = service.request_subscription(session, address, lang, ip=ip)
        mail_id = transactional.record(session, subscriber_id, lang, held=held)
    return mail_id, held


def note_held(rt: Runtime, mail_id: int, held: str) -> None:
    """After the answer: a warning and a metric for a mail a limit held back (the per-network and
    hourly ones mean someone is signing up strangers in bulk)."""
    counters.record_held_confirmation(rt.kv, held)
    if held != "address":
        log.warning("confirmation mail %s held back by the %s limit", mail_id, held)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def client_limited(request: Request) -> ratelimit.Decision:
    """One token from the client's sign-up bucket (the page's and the embedded form's alike)."""
    limiter = request.app.state.rate_limiter
    client = ratelimit.client_key(client_ip(request))
    return await run_in_threadpool(limiter.hit, "signup-ip", client, ratelimit.SIGNUPS_PER_IP)


def minutes_to_wait(decision: ratelimit.Decision) -> int:
    return max(1, round(decision.retry_after / 60))


def rate_limited_page(request: Request, lang: str, decision: ratelimit.Decision) -> HTMLResponse:
    response = page.render(
        request, "rate_limited", 429, lang=lang, minutes=minutes_to_wait(decision)
    )
    response.headers["Retry-After"] = str(decision.retry_after)
    return response


async def sign_up(
    request: Request, background: BackgroundTasks, address: str, lang: str, arrived: float
) -> None:
    """The sign-up, committed; its mail queued after the answer; returns no sooner than
    MAILER_SIGNUP_ANSWER_SECONDS after `arrived` (time.monotonic()), whoever the address is.

    The mail is written with the sign-up, so a broker outage cannot lose it; it is queued after the
    commit and after the answer, for every sign-up (a row that sends nothing is skipped at once).
    Awaited, with the work in one thread-pool call: the wait holds no thread."""
    runtime = request.app.state.runtime
    mail_id, held = await run_in_threadpool(
        sign_up_committed,
        runtime,
        request.app.state.rate_limiter,
        address,
        lang,
        client_ip(request),
    )
    background.add_task(runtime.tasks.send_mails, [mail_id])
    if held:
        background.add_task(note_held, runtime, mail_id, held)
    await wait_out(request, arrived)


async def wait_out(request: Request, arrived: float) -> None:
    floor = settings_of(request).signup_answer_seconds
    await anyio.sleep(max(0.0, arrived + floor - time.monotonic()))
