from mailer.celery_app import app, runtime_of
from mailer.db import utcnow
from mailer.issues.service import draft_issue as draft
from mailer.runtime import Runtime


def run_draft_issue(rt: Runtime) -> int | None:
    """The weekly beat: drafts the next issue for editors to review; an empty week drafts nothing."""
    with rt.session() as session:
        issue = draft(session, utcnow(), rt.settings)
        return issue.number if issue else None


@app.task(name="mailer.draft_issue", queue="assemble", bind=True, acks_late=True)
def draft_issue(self) -> int | None:
    return run_draft_issue(runtime_of(self.app))
