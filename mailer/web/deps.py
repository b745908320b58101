from collections.abc import Iterator

from sqlalchemy.orm import Session

from mailer.db import session_scope


def db_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session
