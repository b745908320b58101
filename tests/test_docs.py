"""The README stays a user's page: it starts with the two commands that work on a fresh machine (the ones
.ci/run runs) and fits in 300 lines, the rest living in docs/. Every link between the pages names a file
that exists and, inside a Markdown page, a heading that exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
DEMO = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mailer demo"
TESTS = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest"
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors: a heading in lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text("utf-8")), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_starts_with_the_two_commands_and_fits_in_300_lines():
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 300
    blocks = re.findall(r"^```sh\n(.*?)\n```", text, re.MULTILINE | re.DOTALL)
    assert blocks[:2] == [DEMO, TESTS]
    assert text.index(TESTS) < text.index("\n## ")  # before anything else


def test_every_link_between_the_pages_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", page.read_text("utf-8"))):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            missing = not linked.exists()
            if missing or anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target}")
    assert broken == []
