from mailer.celery_app import app
from mailer.db import session_scope, utcnow
from mailer.issues.service import draft_issue as draft


@app.task(name="mailer.draft_issue", queue="assemble", acks_late=True)
def draft_issue() -> int | None:
    """The weekly beat: drafts the next issue for editors to review; an empty week drafts nothing."""
    with session_scope() as session:
        issue = draft(session, utcnow())
        return issue.number if issue else None
