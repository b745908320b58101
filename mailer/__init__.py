"""A bilingual (Korean/English) newsletter mailer."""

from pathlib import Path

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The email and web templates: inside the package when installed, at the repo root in a checkout."""
    for candidate in (_HERE / "templates", _HERE.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("templates/ not found: reinstall the package")
