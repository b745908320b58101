"""Story actions beyond the issue page's one-button forms: the whole order at once (what the page's
drag and drop posts) and pairing a story with its translation, or undoing it. Like the other story
actions, each answers the page's htmx with the story fragment and a plain form post with the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from mailer.issues import editing, story_pairs
from mailer.issues.service import IssueError
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.issue_pages import apply
from mailer.web.admin.pages import CurrentEditor, FormField
from mailer.web.deps import DbSession, settings_of

router = APIRouter(prefix="/admin")
MAX_STORIES = 200  # far above any issue: a longer order is not from the page
MAX_ID = 2**31 - 1


def parse_order(text: str) -> list[int]:
    """ "12,7,30" -> [12, 7, 30]; anything else (too long, not numbers, out of range) is refused."""
    parts = text.split(",")
    if len(parts) > MAX_STORIES or not all(p.strip().isdigit() for p in parts):
        raise IssueError("the order is not a list of story ids", "order_mismatch")
    ids = [int(p) for p in parts]
    if not all(0 < i <= MAX_ID for i in ids) or len(set(ids)) != len(ids):
        raise IssueError("the order is not a list of story ids", "order_mismatch")
    return ids


@router.post("/issues/{number:issue_number}/stories/order")
def reorder_stories(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    order: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    settings = settings_of(request)

    def change(issue):
        editing.set_order(session, issue, parse_order(order), settings=settings)

    return apply(request, session, editor, number, change)


@router.post("/issues/{number:issue_number}/stories/pair")
def pair_story(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    action: FormField = "",
    article_id: Annotated[int, Form(ge=1, le=MAX_ID)] = 1,
    partner_id: Annotated[int, Form(ge=1, le=MAX_ID)] = 1,
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    settings = settings_of(request)
    changes = {
        "pair": lambda i: story_pairs.pair_story(
            session, i, article_id, partner_id, settings=settings
        ),
        "unpair": lambda i: story_pairs.unpair_story(session, i, article_id, settings=settings),
    }
    if action not in changes:
        return Response("unknown action", status_code=400)
    return apply(request, session, editor, number, changes[action])
