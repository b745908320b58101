from mailer.articles.ingest import ingest_all as ingest_all_feeds
from mailer.celery_app import app
from mailer.db import session_scope, utcnow


@app.task(name="mailer.ingest_all", queue="ingest", acks_late=True)
def ingest_all() -> dict:
    with session_scope() as session:
        results = ingest_all_feeds(session, utcnow())
    return {r.feed_url: {"new": r.new, "updated": r.updated, "error": r.error} for r in results}
