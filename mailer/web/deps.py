"""What routes take from the app's Runtime (built once by the process's entry point)."""

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def settings_of(request: Request) -> Settings:
    return get_runtime(request).settings


def db_session(request: Request) -> Iterator[Session]:
    """A unit of work for one request: committed when the route returns, rolled back if it raises."""
    with get_runtime(request).session() as session:
        yield session
