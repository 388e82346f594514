"""Sending the outbox: e-mails and daily digests in each person's language, and the webhook.

Run by the scheduler's loop, never inside a request: each pass routes new notifications
(``engine.core.delivery.route``, one transaction), then sends what is due, each send outside
any transaction, and records its outcome in a short transaction of its own. The words are the
notification centre's (:func:`outbox.wording.words`) in the person's language, so an e-mail
says what the page says; links lead to ``SANSHE_BASE_URL``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from engine.core import delivery
from engine.core.db import unit_of_work
from engine.core.delivery import Channel
from engine.core.models import Notification, User

from .wording import language, path, words

log = logging.getLogger("sanshe.delivery")
TIMEOUT_SECONDS = 10


@dataclass
class DeliveryPass:
    """What one pass did: deliveries routed, sent and failed per channel."""
    routed: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


def deliver_pass(services: Any, now: datetime | None = None) -> DeliveryPass:
    """Route new notifications and send every e-mail, digest and webhook call that is due.

    ``services``: the entry point's collaborators (``engine.wiring.Services``)."""
    settings, factory = services.settings, services.session_factory
    at: datetime = now or services.runtime.clock()
    result = DeliveryPass()
    routes = delivery.Routes(email=bool(settings.smtp_host), webhook=bool(settings.webhook_url))
    with unit_of_work(factory) as session:
        digest_at = delivery.next_digest(at, settings.digest_hour, settings.calendar_utc_offset_hours)
        result.routed = delivery.route(session, at, routes, digest_at)
    if routes.email:
        _send_all(services, result, at, Channel.EMAIL, lambda items, people: _emails(settings, items, people))
        _send_all(services, result, at, Channel.DIGEST, lambda items, people: _digests(settings, items, people))
    if routes.webhook:
        _send_all(services, result, at, Channel.WEBHOOK, lambda items, people: _webhook_calls(settings, items, people))
    return result


# A send: the delivery ids it covers and the function that sends it (raises when it fails).
Send = tuple[list[int], Callable[[], None]]


def _send_all(services: Any, result: DeliveryPass, now: datetime, channel: Channel,
              prepare: Callable[[list[tuple[Any, Notification]], dict[str, User]], list[Send]]) -> None:
    settings, factory = services.settings, services.session_factory
    with unit_of_work(factory, readonly=True) as session:
        items = delivery.due(session, now, channel)
        if not items:
            return
        people = delivery.recipients(session, {n.username for _, n in items} | {
            str((n.params or {}).get("by")) for _, n in items if (n.params or {}).get("by")})
        sends = prepare(items, people)
    for ids, send in sends:
        try:
            send()
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as exc:
            log.warning("%s delivery %s failed: %s", channel, ids, exc)
            with unit_of_work(factory) as session:
                delivery.mark_failed(session, ids, now, f"{type(exc).__name__}: {exc}", settings.delivery_attempts,
                                     settings.delivery_backoff_seconds)
            result.failed[channel] = result.failed.get(channel, 0) + len(ids)
            continue
        with unit_of_work(factory) as session:
            delivery.mark_sent(session, ids, now)
        result.sent[channel] = result.sent.get(channel, 0) + len(ids)


def _names(people: dict[str, User]) -> dict[str, str]:
    return {u.username: u.display_name or u.username for u in people.values()}


def _line(settings: Any, notice: Notification, people: dict[str, User], locale: str | None) -> tuple[str, str]:
    """The notification in the words of ``locale`` and its full link."""
    return words(notice, _names(people), language(locale)), settings.base_url.rstrip("/") + path(notice)


def _emails(settings: Any, items: list[tuple[Any, Notification]], people: dict[str, User]) -> list[Send]:
    sends: list[Send] = []
    for sent, notice in items:
        person = people.get(notice.username)
        if person is None or not person.email or not person.active:
            sends.append(([sent.id], _refuse("no e-mail address")))
            continue
        _ = language(person.locale).gettext
        text, link = _line(settings, notice, people, person.locale)
        subject = _("Sanshe: %(what)s", what=text)
        body = _("Dear %(name)s,", name=person.display_name or person.username) + "\n\n" + text + "\n" + link + \
            "\n\n" + _("You receive this because you chose e-mail for this kind of notification in Sanshe.")
        sends.append(([sent.id], _smtp(settings, person.email, subject[:200], body)))
    return sends


def _digests(settings: Any, items: list[tuple[Any, Notification]], people: dict[str, User]) -> list[Send]:
    by_person: dict[str, list[tuple[Any, Notification]]] = {}
    for item in items:
        by_person.setdefault(item[1].username, []).append(item)
    sends: list[Send] = []
    for username, mine in by_person.items():
        ids = [d.id for d, _n in mine]
        person = people.get(username)
        if person is None or not person.email or not person.active:
            sends.append((ids, _refuse("no e-mail address")))
            continue
        _ = language(person.locale).gettext
        lines = ["- " + " ".join(_line(settings, n, people, person.locale)) for _d, n in mine]
        subject = _("Sanshe: %(n)s notifications of the day", n=len(mine))
        body = _("Dear %(name)s,", name=person.display_name or person.username) + "\n\n" + "\n".join(lines) + \
            "\n\n" + _("You receive this because you chose a daily digest for these notifications in Sanshe.")
        sends.append((ids, _smtp(settings, person.email, subject, body)))
    return sends


def _webhook_calls(settings: Any, items: list[tuple[Any, Notification]], people: dict[str, User]) -> list[Send]:
    sends: list[Send] = []
    for sent, notice in items:
        person = people.get(notice.username)
        text, link = _line(settings, notice, people, person.locale if person is not None else None)
        payload = {"delivery_id": sent.id, "notification_id": notice.id, "kind": notice.kind,
                   "username": notice.username, "display_name": person.display_name if person else notice.username,
                   "email": person.email if person else None, "text": text, "link": link,
                   "task_id": notice.task_id, "instance_id": notice.instance_id,
                   "created_at": notice.created_at.isoformat() + "Z"}
        sends.append(([sent.id], _post(settings, payload)))
    return sends


def signature(secret: str, body: bytes) -> str:
    """The ``X-Sanshe-Signature`` header of a webhook body: ``sha256=`` and the HMAC in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(settings: Any, payload: dict[str, Any]) -> Callable[[], None]:
    body = json.dumps(payload, ensure_ascii=False).encode()

    def send() -> None:
        request = urllib.request.Request(settings.webhook_url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "X-Sanshe-Delivery": str(payload["delivery_id"]),
            "X-Sanshe-Signature": signature(settings.webhook_secret, body)})
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (configured URL)
            if not 200 <= response.status < 300:
                raise ValueError(f"webhook answered {response.status}")
    return send


def _smtp(settings: Any, to: str, subject: str, body: str) -> Callable[[], None]:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(body)

    def send() -> None:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    return send


def _refuse(reason: str) -> Callable[[], None]:
    def send() -> None:
        raise ValueError(reason)
    return send
