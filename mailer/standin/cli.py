"""`mailer standin`: run the SendGrid stand-in in the foreground until interrupted (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import gc
import os
import signal
import threading

import click

from mailer.standin.faults import Faults
from mailer.standin.server import StandIn
from mailer.standin.signing import load_or_create_private_key


def _fault_spec(ctx, param, value):
    try:
        Faults(value)  # parse early so a typo is a usage error, not a crash after start
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command("standin")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 in compose)."
)
@click.option("--port", type=int, required=True, help="Port to listen on.")
@click.option(
    "--api-key",
    default=lambda: os.environ.get("MAILER_SENDGRID_API_KEY") or "SG.standin",
    show_default="$MAILER_SENDGRID_API_KEY or SG.standin",
    help="The only bearer key accepted.",
)
@click.option(
    "--record",
    "record",
    type=click.Path(dir_okay=False),
    help="Append one JSON line per accepted request.",
)
@click.option(
    "--fail",
    "fail",
    callback=_fault_spec,
    metavar="SPEC",
    help='Fault probabilities, e.g. "429:0.1,500:0.05,503:0.02,drop:0.01,slow:0.02".',
)
@click.option(
    "--slow-seconds", type=float, default=5.0, show_default=True, help="Delay of a `slow` fault."
)
@click.option("--webhook-url", metavar="URL", help="Post signed Event Webhook batches here.")
@click.option(
    "--bounce-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of addresses (chosen by hash, repeatably) that bounce instead of being delivered.",
)
@click.option(
    "--soft-bounce-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of addresses (by hash, repeatably) whose mail is refused as SendGrid reports a soft "
    "bounce: event bounce, type blocked.",
)
@click.option(
    "--validate-sample",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Share of requests fully validated; limits and auth are always checked.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for fault draws and sampling."
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False),
    metavar="PEM",
    help="Webhook signing key; created if missing, so the public key stays the same across restarts.",
)
def standin(
    host,
    port,
    api_key,
    record,
    fail,
    slow_seconds,
    webhook_url,
    bounce_rate,
    soft_bounce_rate,
    validate_sample,
    seed,
    key_file,
):
    """Run a local stand-in for SendGrid's v3 mail-send API and Event Webhook."""
    try:
        key = load_or_create_private_key(key_file) if key_file else None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot use key file {key_file}: {exc}") from None
    server = StandIn(
        api_key=api_key,
        host=host,
        port=port,
        faults=Faults(fail, seed=seed),
        record_path=record,
        webhook_url=webhook_url,
        webhook_private_key=key,
        bounce_rate=bounce_rate,
        soft_bounce_rate=soft_bounce_rate,
        validate_sample=validate_sample,
        seed=seed,
        slow_seconds=slow_seconds,
    )
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())  # docker stop sends SIGTERM
    click.echo(f"SendGrid stand-in listening on {server.url}", err=True)
    click.echo(f"webhook public key: {server.public_key_b64()}")
    try:
        # What it has accepted it keeps until it stops (a million recipients in a benchmark): out of the
        # collector's reach, or each full collection walks all of it again.
        while not done.wait(0.25):
            gc.freeze()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
