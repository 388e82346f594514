"""People's ties to organizations: employment or membership, with dates.

The one record of who belongs to which social organization. Recusal (the vote roster, the
evaluation panel) and the start page read it; administrators keep it on the people pages.
Every function takes the caller's session and never commits.
"""
from collections.abc import Iterable
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.core.models import Affiliation, AffiliationKind, Organization, User
from engine.errors import NotFoundError, Text, ValidationError


def _date(value: date | str | None, field: str, required: bool) -> date | None:
    if value in (None, ""):
        if required:
            raise ValidationError(Text("Enter the date the affiliation began."),
                                  errors={field: [Text("This field is required.")]})
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        message = Text("Enter a date like 2024-03-01.")
        raise ValidationError(message, errors={field: [message]}) from exc


def add(session: Session, user: User, organization_id: int | str | None, kind: str = AffiliationKind.EMPLOYMENT,
        starts_on: date | str | None = None, ends_on: date | str | None = None, title: str = "") -> Affiliation:
    """Record that ``user`` works for (or is a member of) the organization from ``starts_on``.

    Refused with a ValidationError naming the field: an unknown organization or kind, a
    missing start, an end before the start.
    """
    try:
        org = session.get(Organization, int(organization_id)) if organization_id not in (None, "") else None
    except (TypeError, ValueError):
        org = None
    if org is None:
        message = Text("Choose an organization.")
        raise ValidationError(message, errors={"organization_id": [message]})
    if kind not in {k.value for k in AffiliationKind}:
        message = Text("Choose employment or membership.")
        raise ValidationError(message, errors={"kind": [message]})
    start = _date(starts_on, "starts_on", required=True)
    assert start is not None  # required above
    end = _date(ends_on, "ends_on", required=False)
    if end is not None and end < start:
        message = Text("The end date is before the start date.")
        raise ValidationError(message, errors={"ends_on": [message]})
    affiliation = Affiliation(user_id=user.id, organization_id=org.id, kind=str(kind), starts_on=start,
                              ends_on=end, title=(title or "").strip()[:100])
    session.add(affiliation)
    session.flush()
    return affiliation


def end(session: Session, user: User, affiliation_id: int, ends_on: date | str | None) -> Affiliation:
    """Close one of ``user``'s affiliations on ``ends_on`` (it stays as history)."""
    affiliation = session.get(Affiliation, affiliation_id)
    if affiliation is None or affiliation.user_id != user.id:
        raise NotFoundError(Text("No such affiliation."))
    end_date = _date(ends_on, "ends_on", required=True)
    assert end_date is not None  # required above
    if end_date < affiliation.starts_on:
        message = Text("The end date is before the start date.")
        raise ValidationError(message, errors={"ends_on": [message]})
    affiliation.ends_on = end_date
    session.flush()
    return affiliation


def current(session: Session, user_ids: Iterable[int], on: date) -> dict[int, list[Affiliation]]:
    """``{user id: [affiliations in force on the day]}`` for the given people."""
    ids = sorted(set(user_ids))
    found: dict[int, list[Affiliation]] = {}
    if not ids:
        return found
    rows = session.scalars(select(Affiliation).where(
        Affiliation.user_id.in_(ids), Affiliation.starts_on <= on,
        or_(Affiliation.ends_on.is_(None), Affiliation.ends_on >= on)).order_by(Affiliation.starts_on))
    for affiliation in rows:
        found.setdefault(affiliation.user_id, []).append(affiliation)
    return found


def organization_of(session: Session, user: User, on: date) -> int | None:
    """The organization the person currently works for, if exactly one (else None)."""
    employers = {a.organization_id for a in current(session, [user.id], on).get(user.id, [])
                 if a.kind == AffiliationKind.EMPLOYMENT}
    return employers.pop() if len(employers) == 1 else None
