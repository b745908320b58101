"""Imports every model so Base.metadata is complete (for Alembic and create_all)."""

from mailer.articles.models import Article, Feed
from mailer.db import Base
from mailer.delivery.models import Batch, Delivery
from mailer.events.models import WebhookEvent
from mailer.issues.models import Edition, Issue, IssueStory
from subscribers.models import Subscriber

__all__ = ["Article", "Base", "Batch", "Delivery", "Edition", "Feed", "Issue", "IssueStory", "Subscriber",
           "WebhookEvent"]
