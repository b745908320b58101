"""Every package's models, imported so that Base.metadata is complete (for Alembic and create_all)."""

import mailer.articles.models
import mailer.delivery.models
import mailer.events.models
import mailer.issues.models
import mailer.mail.models  # noqa: F401
import subscribers.import_jobs
import subscribers.models  # noqa: F401
from mailer.db import Base

__all__ = ["Base"]
