"""What routes take from the app's Runtime (built once by the process's entry point)."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
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


# What every route and dependency declares. scope="function": the commit runs when the route returns,
# before the answer is sent. By default FastAPI ends a yield dependency after the response has gone out,
# so a client could act on an answer (the redirect after logout, after a saved form) before its change
# was committed: the old cookie still worked, the new one not yet, the next page showed the old state.
DbSession = Annotated[Session, Depends(db_session, scope="function")]
