"""The issue editor's changes: stories added, removed, moved and pinned; subjects, preheaders and
notes per edition. Every change re-renders, so a template error shows while the editor is there."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.articles.models import Article
from mailer.config import Settings
from mailer.issues import approvals
from mailer.issues.digest import default_heads, render_issue, send_day, stories_of
from mailer.issues.models import Edition, Issue, IssueStory
from mailer.issues.service import IssueError
from mailer.issues.states import IssueStatus
from mailer.langs import BOTH, STORY_LANGS, written_in

EDITABLE = (IssueStatus.DRAFT, IssueStatus.SCHEDULED)
MAX_SUBJECT = 500


def is_editable(issue: Issue) -> bool:
    """A draft or scheduled issue none of whose editions has started going out."""
    return issue.status in EDITABLE and not any(e.started_at for e in issue.editions)


def _check_editable(issue: Issue) -> None:
    if not is_editable(issue):
        raise IssueError(
            f"issue #{issue.number} is {issue.status}: only drafts and scheduled issues can be edited",
            "not_editable",
            number=issue.number,
            status=str(issue.status),
        )


def story_of(issue: Issue, article_id: int) -> IssueStory:
    """The issue's story of that article, or an IssueError naming what is missing."""
    story = next((s for s in issue.stories if s.article_id == article_id), None)
    if story is None:
        raise IssueError(
            f"story {article_id} is not in issue #{issue.number}",
            "story_missing",
            article_id=article_id,
            number=issue.number,
        )
    return story


def reorder(ids: list[int], article_id: int, delta: int) -> list[int]:
    """The list with one id moved `delta` places (clamped at the ends). Pure."""
    if article_id not in ids:
        return ids
    i = ids.index(article_id)
    j = max(0, min(len(ids) - 1, i + delta))
    out = ids[:i] + ids[i + 1 :]
    out.insert(j, article_id)
    return out


def _renumber(issue: Issue, order: list[int]) -> None:
    by_id = {s.article_id: s for s in issue.stories}
    for position, article_id in enumerate(order):
        by_id[article_id].position = position


def _refresh(session: Session, issue: Issue, settings: Settings) -> None:
    """After any change of the content: re-rendered, and an approved send time must be approved again
    (an admin's own change approves it anew: mailer.web.admin.issue_pages)."""
    approvals.withdraw(issue.editions)
    session.flush()
    session.expire(issue, ["stories"])  # the relationship's order (pinned, position) is read again
    render_issue(session, issue, settings)


def move_story(
    session: Session, issue: Issue, article_id: int, delta: int, *, settings: Settings
) -> None:
    _check_editable(issue)
    _renumber(issue, reorder([s.article_id for s in issue.stories], article_id, delta))
    _refresh(session, issue, settings)


def set_order(session: Session, issue: Issue, order: list[int], *, settings: Settings) -> None:
    """The stories in the order the editor dragged them to: `order` names each story once. Pinned
    stories still lead, in the order given among themselves."""
    _check_editable(issue)
    if sorted(order) != sorted(s.article_id for s in issue.stories):
        raise IssueError(
            f"the order must name each story of issue #{issue.number} once",
            "order_mismatch",
            number=issue.number,
        )
    _renumber(issue, order)
    _refresh(session, issue, settings)


def pin_story(
    session: Session, issue: Issue, article_id: int, pinned: bool, *, settings: Settings
) -> None:
    """Pinned stories lead the issue, in their own order; the rest follow."""
    _check_editable(issue)
    story = story_of(issue, article_id)
    story.pinned = pinned
    _refresh(session, issue, settings)


def remove_story(session: Session, issue: Issue, article_id: int, *, settings: Settings) -> None:
    _check_editable(issue)
    if len(issue.stories) <= 1:
        raise IssueError("an issue needs at least one story", "last_story")
    issue.stories = [s for s in issue.stories if s.article_id != article_id]
    _renumber(issue, [s.article_id for s in issue.stories])
    _refresh(session, issue, settings)


def add_story(session: Session, issue: Issue, article_id: int, *, settings: Settings) -> None:
    """Add a story at the end. Either side of a translated pair stands for the story; one already in
    this or another issue is refused."""
    _check_editable(issue)
    article = session.get(Article, article_id)
    if article is None:
        raise IssueError(f"no story {article_id}", "story_missing", article_id=article_id)
    sides = {article.id, article.pair_id} - {None}
    used = session.scalar(
        select(IssueStory.issue_id).where(IssueStory.article_id.in_(sides)).limit(1)
    )
    if used is not None:
        number = session.get_one(Issue, used).number
        raise IssueError(
            f"story {article_id} is already in issue #{number}",
            "story_there",
            article_id=article_id,
            number=number,
        )
    last = max((s.position for s in issue.stories), default=-1)
    issue.stories.append(IssueStory(article_id=article_id, position=last + 1))
    _refresh(session, issue, settings)


def set_story_note(
    session: Session,
    issue: Issue,
    article_id: int,
    note: str,
    lang: str | None = None,
    *,
    settings: Settings,
) -> None:
    """The editor's word on a story in one language (ko or en); each edition shows its own language's, the
    bilingual one both. Without `lang`, the note's language is the one it is written in (an empty note then
    clears both)."""
    _check_editable(issue)
    if lang is not None and lang not in STORY_LANGS:
        raise IssueError(f"a story note is in ko or en, not {lang!r}", "note_lang", lang=lang)
    story = story_of(issue, article_id)
    text = note.strip() or None
    for code in (lang,) if lang else (written_in(text),) if text else STORY_LANGS:
        setattr(story, f"note_{code}", text)
    _refresh(session, issue, settings)


def _kept(given: str, edition: Edition, field: str, default: str) -> None:
    """An editor's save of a subject or preheader: blank or the default gives the default back (and it
    follows the stories again), the same words as stored keep their state, other words are their own."""
    if not given or given == default:
        given, edited = default, False
    elif given == getattr(edition, field):
        edited = getattr(edition, f"{field}_edited")
    else:
        edited = True
    setattr(edition, field, given)
    setattr(edition, f"{field}_edited", edited)


def update_editions(
    session: Session, issue: Issue, fields: dict[str, dict[str, str]], *, settings: Settings
) -> None:
    """{lang: {"subject", "preheader", "note"}}. A blank subject or preheader gets the default back."""
    _check_editable(issue)
    by_lang: dict[str, Edition] = {e.lang: e for e in issue.editions}
    stories = stories_of(session, issue)
    for lang, values in fields.items():
        edition = by_lang.get(lang)
        if edition is None:
            continue
        subject = " ".join(values.get("subject", edition.subject).split())
        if len(subject) > MAX_SUBJECT:
            raise IssueError(
                f"the {lang} subject is longer than {MAX_SUBJECT} characters",
                "subject_long",
                lang=lang,
                max=MAX_SUBJECT,
            )
        preheader = " ".join(values.get("preheader", edition.preheader).split())[:MAX_SUBJECT]
        default_subject, default_preheader = default_heads(
            issue, lang, stories, settings, send_day(edition, issue, settings)
        )
        _kept(subject, edition, "subject", default_subject)
        _kept(preheader, edition, "preheader", default_preheader)
        if (
            lang != BOTH
        ):  # the bilingual edition shows the Korean and the English intro, not one of its own
            edition.note = values.get("note", edition.note).strip()
    _refresh(session, issue, settings)


def set_edition_note(
    session: Session, issue: Issue, lang: str, note: str, *, settings: Settings
) -> None:
    """The issue's intro in one edition's language (ko or en), saved alone as the editor types it."""
    _check_editable(issue)
    edition = next((e for e in issue.editions if e.lang == lang), None)
    if lang not in STORY_LANGS or edition is None:
        raise IssueError(f"an intro note is in ko or en, not {lang!r}", "note_lang", lang=lang)
    edition.note = note.strip()
    _refresh(session, issue, settings)


def follow_pairing(session: Session, article_ids: set[int], settings: Settings) -> list[int]:
    """After a pairing changed: re-render each editable issue holding one of these stories, so its
    editions show the stories in their new languages, and their default subjects and preheaders follow.
    The numbers of the issues re-rendered."""
    issues = session.scalars(
        select(Issue)
        .join(IssueStory, IssueStory.issue_id == Issue.id)
        .where(IssueStory.article_id.in_(article_ids), Issue.status.in_(EDITABLE))
        .distinct()
    ).all()
    done = []
    for issue in issues:
        if is_editable(issue):
            _refresh(session, issue, settings)
            done.append(issue.number)
    return done


def candidates(session: Session, limit: int = 50) -> list[Article]:
    """Recent stories in no issue (one side of each pair), for the editor's "add" list."""
    used = select(IssueStory.article_id)
    rows = session.scalars(
        select(Article)
        .where(Article.id.not_in(used))
        .order_by(Article.published_at.desc())
        .limit(limit * 2)
    ).all()
    used_ids = set(session.scalars(used))
    seen: set[int] = set()
    out = []
    for a in rows:
        if a.id in seen or (a.pair_id and a.pair_id in used_ids):
            continue
        seen |= {a.id} if a.pair_id is None else {a.id, a.pair_id}
        out.append(a)
    return out[:limit]
