from mailer.articles.ingest import ingest_all as ingest_all_feeds
from mailer.celery_app import app, runtime_of
from mailer.db import utcnow
from mailer.runtime import Runtime


def run_ingest_all(rt: Runtime) -> dict:
    with rt.session() as session:
        results = ingest_all_feeds(session, utcnow(), rt.settings)
    return {r.feed_url: {"new": r.new, "updated": r.updated, "error": r.error} for r in results}


@app.task(name="mailer.ingest_all", queue="ingest", bind=True, acks_late=True)
def ingest_all(self) -> dict:
    return run_ingest_all(runtime_of(self.app))


def run_ingest(rt: Runtime, only_url: str | None = None) -> dict:
    """Every feed not paused, or the one named: the desk's "fetch now"."""
    with rt.session() as session:
        results = ingest_all_feeds(session, utcnow(), rt.settings, only_url=only_url)
    return {r.feed_url: {"new": r.new, "updated": r.updated, "error": r.error} for r in results}
