"""The long-running processes: `mailer worker`, `mailer beat`, `mailer serve`."""

from __future__ import annotations

import click

from mailer.cli.base import main, runtime


@main.command()
@click.option("-Q", "--queues", default="mail,ingest,assemble,send,events", show_default=True)
@click.option("-c", "--concurrency", type=int, help="Worker processes (default: one per core).")
@click.option(
    "-P",
    "--pool",
    type=click.Choice(["prefork", "solo", "threads"]),
    default="prefork",
    show_default=True,
)
@click.option("-n", "--hostname", help="Worker name (default celery@HOST).")
@click.option("--loglevel", default="info", show_default=True)
def worker(
    queues: str, concurrency: int | None, pool: str, hostname: str | None, loglevel: str
) -> None:
    """A Celery worker with the project's app (needs MAILER_BROKER_URL)."""
    settings = runtime().settings
    if settings.tasks_in_process:
        raise click.ClickException(
            "MAILER_BROKER_URL is not set: without a broker, tasks run in-process"
        )
    from mailer.celery_app import quiet
    from mailer.wiring import celery_app

    app = celery_app(runtime())
    argv = [*quiet(settings), "worker", "-Q", queues, "--loglevel", loglevel, "--pool", pool]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if hostname:
        argv += ["--hostname", hostname]
    app.worker_main(argv)


@main.command()
@click.option("--loglevel", default="info", show_default=True)
@click.option(
    "--schedule", default="celerybeat-schedule", show_default=True, help="Beat's state file."
)
def beat(loglevel: str, schedule: str) -> None:
    """Celery beat: ingest, the weekly draft and stale-batch pickup on schedule."""
    settings = runtime().settings
    if settings.tasks_in_process:
        raise click.ClickException("MAILER_BROKER_URL is not set: beat needs a broker")
    from mailer.celery_app import quiet
    from mailer.wiring import celery_app

    celery_app(runtime()).start(
        [*quiet(settings), "beat", "--loglevel", loglevel, "--schedule", schedule]
    )


def uvicorn_options(host: str, port: int, workers: int, trusted_proxies: str) -> dict:
    """How `mailer serve` runs uvicorn."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        # the client's address from X-Forwarded-For, for sign-up rate limits, from trusted proxies only
        "proxy_headers": True,
        "forwarded_allow_ips": trusted_proxies,
        "log_config": None,  # uvicorn logs through our handler (JSON lines in production)
        # No access log: a line per request would write every unsubscribe and preference link, tokens that
        # are as good as a password, into the logs (and cost a tenth of a one-click request's CPU).
        "access_log": False,
    }


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes serving the app; about one per core (each has its own database pool).",
)
def serve(host: str, port: int, workers: int) -> None:
    """The web app: public pages, webhook, /healthz and /readyz."""
    import logging

    import uvicorn

    from mailer.logs import configure
    from mailer.redis_client import is_redis

    settings = runtime().settings
    configure(settings, logging.INFO)
    if workers > 1 and not is_redis(settings.broker_url):
        logging.getLogger(__name__).warning(
            "%d web processes without a Redis broker: each keeps its own sign-up rate limits",
            workers,
        )
    uvicorn.run(
        "mailer.wiring:web_app", **uvicorn_options(host, port, workers, settings.trusted_proxies)
    )
