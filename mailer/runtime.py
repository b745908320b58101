"""Process set-up shared by the long-running processes (Celery workers, web processes)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Everything loaded at start lives as long as the process: moving it out of the garbage collector's
    reach keeps each collection small. A send batch or a burst of requests allocates enough to make
    collections frequent, and each would walk the whole of Celery, SQLAlchemy, FastAPI and the rest."""
    gc.collect()
    gc.freeze()
