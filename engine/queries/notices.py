"""Vote announcements (表决结果公告) and the public notice board (公示栏) of a community.

The announcement is what the chair reads out when the tally is done: the meeting (project,
round, date), members, present, recused, yes / no / abstain, the rule applied and the
result. The notice board posts each result for residents during a publicity period; it
carries public facts only (project, organization, amount, result, dates), never ballots nor
the names of voters or of the recused.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Community, Instance, Organization, Town
from engine.errors import NotFoundError, Text
from engine.method.models import Agreement, Decision

PUBLICITY_DAYS = 7  # 公示期: a result stays posted as current for a week, then moves to the archive


@dataclass(frozen=True)
class Announcement:
    decision_id: int
    instance_id: int
    project: str
    community: str
    town: str
    organization: str
    round: int
    announced_at: datetime
    members: int
    present: int
    recused: int
    yes: int
    no: int
    abstain: int
    valid: bool
    passed: bool
    rule: str  # the rule applied, in Chinese
    sentence: str  # the announcement as read out, in Chinese
    amount_fen: int | None  # the budget the application asked for
    publicity_start: datetime  # when the result was announced
    publicity_end: datetime

    @property
    def result(self) -> str:
        """``passed``, ``rejected`` or ``invalid``."""
        return "invalid" if not self.valid else ("passed" if self.passed else "rejected")


@dataclass(frozen=True)
class PurchaseNotice:
    """A signed purchase agreement, posted as a public fact."""
    instance_id: int
    project: str
    organization: str
    number: str
    amount_fen: int
    signed_at: datetime


def _announcement(decision: Decision, instance: Instance, community: Community, town: Town,
                  organization: Organization | None) -> Announcement:
    details = decision.details or {}
    rule = details.get("rule") or {}
    words = rule.get("text") or {}
    said = details.get("announcement") or {}
    start = decision.created_at
    return Announcement(
        decision_id=decision.id, instance_id=instance.id, project=instance.title, community=community.name,
        town=town.name, organization=organization.name if organization else "", round=int(details.get("round") or 1),
        announced_at=decision.created_at, members=int(details.get("members") or 0),
        present=int(details.get("present") or 0), recused=len(details.get("recused") or []),
        yes=int(details.get("yes") or 0), no=int(details.get("no") or 0), abstain=int(details.get("abstain") or 0),
        valid=bool(details.get("valid")), passed=bool(details.get("passed")),
        rule=words.get("zh", "") if isinstance(words, dict) else str(words),
        sentence=said.get("zh", "") if isinstance(said, dict) else str(said),
        amount_fen=details.get("amount_fen"), publicity_start=start,
        publicity_end=start + timedelta(days=PUBLICITY_DAYS))


def _context(session: Session, instance: Instance) -> tuple[Community, Town, Organization | None]:
    community = session.get_one(Community, instance.community_id)
    town = session.get_one(Town, community.town_id)
    organization = session.get(Organization, instance.organization_id) if instance.organization_id else None
    return community, town, organization


def announcements_of(session: Session, instance: Instance) -> list[Announcement]:
    """Every vote of the project, first round first."""
    decisions = session.scalars(select(Decision).where(Decision.instance_id == instance.id, Decision.kind == "vote")
                                .order_by(Decision.id)).all()
    community, town, organization = _context(session, instance)
    return [_announcement(d, instance, community, town, organization) for d in decisions]


def announcement(session: Session, instance: Instance, decision_id: int) -> Announcement:
    """One vote of the project, or NotFoundError."""
    found = next((a for a in announcements_of(session, instance) if a.decision_id == decision_id), None)
    if found is None:
        raise NotFoundError(Text("Project %(id)s has no vote %(vote)s.", id=instance.id, vote=decision_id))
    return found


def community_by_code(session: Session, code: str) -> Community:
    community = session.scalar(select(Community).where(Community.code == code))
    if community is None:
        raise NotFoundError(Text("There is no community %(code)s.", code=code))
    return community


def communities(session: Session) -> list[tuple[Community, Town]]:
    """Every community with its town, for the list of notice boards."""
    return list(session.execute(select(Community, Town).join(Town, Town.id == Community.town_id)
                                .order_by(Town.name, Community.name)).all())


@dataclass(frozen=True)
class NoticeBoard:
    community: Community
    town: Town
    current: list[Announcement]  # within their publicity period, newest first
    archive: list[Announcement]  # the period is over
    purchases: list[PurchaseNotice]  # signed agreements, newest first


def notice_board(session: Session, code: str, now: datetime, archive_limit: int = 50) -> NoticeBoard:
    """What the community's notice board shows at ``now``."""
    community = community_by_code(session, code)
    town = session.get_one(Town, community.town_id)
    rows = session.execute(
        select(Decision, Instance, Organization)
        .join(Instance, Instance.id == Decision.instance_id)
        .outerjoin(Organization, Organization.id == Instance.organization_id)
        .where(Instance.community_id == community.id, Decision.kind == "vote")
        .order_by(Decision.created_at.desc(), Decision.id.desc())).all()
    posted = [_announcement(d, i, community, town, o) for d, i, o in rows]
    current = [a for a in posted if a.publicity_start <= now <= a.publicity_end]
    archive = [a for a in posted if a.publicity_end < now][:archive_limit]
    signed = session.execute(
        select(Agreement, Instance, Organization)
        .join(Instance, Instance.id == Agreement.instance_id)
        .outerjoin(Organization, Organization.id == Instance.organization_id)
        .where(Instance.community_id == community.id, Agreement.status == "signed")
        .order_by(Agreement.id.desc())).all()
    purchases = [PurchaseNotice(instance_id=i.id, project=i.title, organization=o.name if o else "",
                                number=a.number, amount_fen=int(a.content.get("amount_fen") or 0),
                                signed_at=max(s.signed_at for s in a.signatures))
                 for a, i, o in signed if a.signatures]
    return NoticeBoard(community=community, town=town, current=current, archive=archive, purchases=purchases)


def community_code(session: Session, community_id: int | None) -> str:
    """The code in the address of the community's notice board."""
    community = session.get(Community, community_id) if community_id is not None else None
    return community.code if community is not None else ""
