"""Every package's models, imported so that Base.metadata is complete (for Alembic and create_all)."""

import subscribers.models  # noqa: F401
from mailer.db import Base

__all__ = ["Base"]
