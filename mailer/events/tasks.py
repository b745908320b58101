from mailer.celery_app import app
from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.events.apply import apply_pending
from mailer.events.stats import refresh_active


def process_stored() -> int:
    """Apply every stored event not yet applied, a chunk per transaction."""
    total = 0
    while True:
        with session_scope() as session:
            applied = apply_pending(session, utcnow())
        total += applied
        if not applied:
            return total


@app.task(name="mailer.process_events", queue="events", acks_late=True)
def process_events() -> int:
    return process_stored()


def enqueue_processing() -> None:
    """After the events are committed: on the events queue, or here and now without a broker."""
    if get_settings().tasks_in_process:
        process_stored()
    else:
        process_events.delay()


@app.task(name="mailer.refresh_issue_counts", queue="assemble")
def refresh_issue_counts() -> int:
    """Beat: store fresh counts of the issues in flight or recently sent, for the dashboard and /metrics."""
    with session_scope() as session:
        return refresh_active(session, utcnow(), get_settings())
