"""The outbox of notifications: which go out by e-mail, in a daily digest or to the webhook.

A notification is written in the transaction of the step that caused it; this module never
sends anything there. The delivery pass (``route``) later reads notifications not yet routed
and writes a :class:`Delivery` per channel the person chose (and one per notification for
the webhook), then the sender takes due deliveries, sends them outside any transaction and
records the outcome: sent, or tried again after a doubling wait, or given up.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.models import Delivery, Notification, NotificationPreference, User
from engine.errors import Text, ValidationError


class Channel(StrEnum):
    """How a person receives a kind of notification; ``webhook`` is the town's gateway."""
    APP = "app"        # in the app only
    EMAIL = "email"    # in the app and at once by e-mail
    DIGEST = "digest"  # in the app and once a day in one e-mail
    WEBHOOK = "webhook"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


PERSON_CHANNELS = (Channel.APP, Channel.EMAIL, Channel.DIGEST)
ROUTE_BATCH = 500


def preferences(session: Session, username: str) -> dict[str, str]:
    """``{kind: channel}`` the person chose; kinds not in it are in the app only."""
    rows = session.execute(select(NotificationPreference.kind, NotificationPreference.channel)
                           .where(NotificationPreference.username == username))
    return {kind: channel for kind, channel in rows}


def set_preferences(session: Session, user: User, choices: dict[str, str], kinds: list[str],
                    email: str | None) -> None:
    """Keep the person's channel per kind and e-mail address; refuse unknown kinds or channels,
    and e-mail without an address."""
    bad: dict[str, list[Any]] = {kind: [Text("Choose in the app, by e-mail or a daily digest.")] for kind, channel in choices.items()
           if kind not in kinds or channel not in PERSON_CHANNELS}
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or "@" not in email or " " in email):
        bad["email"] = [Text("Not an e-mail address.")]
    if email is None and any(channel != Channel.APP for channel in choices.values()):
        bad["email"] = [Text("E-mail needs an address.")]
    if bad:
        raise ValidationError("Some fields need attention.", errors=bad)
    user.email = email
    for kind in kinds:
        row = session.get(NotificationPreference, (user.username, kind))
        channel = choices.get(kind, Channel.APP)
        if row is None:
            session.add(NotificationPreference(username=user.username, kind=kind, channel=channel))
        else:
            row.channel = channel
    session.flush()


@dataclass
class Routes:
    """Which channels work now: e-mail (an SMTP host is set) and the webhook (a URL is set)."""
    email: bool
    webhook: bool


def next_digest(now: datetime, hour: int, utc_offset_hours: float) -> datetime:
    """The next time (naive UTC) the local clock shows ``hour``:00."""
    local = now + timedelta(hours=utc_offset_hours)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at - timedelta(hours=utc_offset_hours)


def route(session: Session, now: datetime, routes: Routes, digest_at: datetime) -> int:
    """Write the deliveries of notifications not routed yet (a batch); returns how many."""
    rows = session.scalars(select(Notification).where(Notification.routed_at.is_(None))
                           .order_by(Notification.id).limit(ROUTE_BATCH)).all()
    if not rows:
        return 0
    people = {n.username for n in rows}
    chosen = {(p.username, p.kind): p.channel for p in session.scalars(
        select(NotificationPreference).where(NotificationPreference.username.in_(people)))} if routes.email else {}
    written = 0
    for notice in rows:
        channel = chosen.get((notice.username, notice.kind), Channel.APP)
        if channel in (Channel.EMAIL, Channel.DIGEST):
            session.add(Delivery(notification_id=notice.id, username=notice.username, channel=channel,
                                 state=DeliveryState.PENDING, attempts=0, created_at=now,
                                 next_at=now if channel == Channel.EMAIL else digest_at))
            written += 1
        if routes.webhook:
            session.add(Delivery(notification_id=notice.id, username=notice.username, channel=Channel.WEBHOOK,
                                 state=DeliveryState.PENDING, attempts=0, created_at=now, next_at=now))
            written += 1
        notice.routed_at = now
    session.flush()
    return written


def due(session: Session, now: datetime, channel: Channel, limit: int = 100) -> list[tuple[Delivery, Notification]]:
    """Pending deliveries of ``channel`` whose time has come, with their notifications, oldest first."""
    rows = session.execute(
        select(Delivery, Notification).join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.state == DeliveryState.PENDING, Delivery.channel == channel, Delivery.next_at <= now)
        .order_by(Delivery.next_at, Delivery.id).limit(limit))
    return [(row[0], row[1]) for row in rows]


def mark_sent(session: Session, delivery_ids: list[int], now: datetime) -> None:
    session.execute(update(Delivery).where(Delivery.id.in_(delivery_ids))
                    .values(state=DeliveryState.SENT, sent_at=now, attempts=Delivery.attempts + 1)
                    .execution_options(synchronize_session=False))


def mark_failed(session: Session, delivery_ids: list[int], now: datetime, error: str, attempts: int,
                backoff_seconds: float) -> None:
    """A send failed: try again after ``backoff_seconds`` doubled per attempt, or give up after
    ``attempts`` tries."""
    for delivery in session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))):
        delivery.attempts += 1
        delivery.last_error = error[:2000]
        if delivery.attempts >= attempts:
            delivery.state = DeliveryState.FAILED
        else:
            delivery.next_at = now + timedelta(seconds=backoff_seconds * 2 ** (delivery.attempts - 1))
    session.flush()


def recipients(session: Session, usernames: set[str]) -> dict[str, User]:
    """The people by username (their e-mail address, language and display name)."""
    if not usernames:
        return {}
    return {u.username: u for u in session.scalars(select(User).where(User.username.in_(usernames)))}
