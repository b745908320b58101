from mailer.celery_app import app
from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.events.apply import apply_pending


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
