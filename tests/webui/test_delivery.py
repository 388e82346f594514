"""Notifications by e-mail (a real SMTP server on loopback), in a daily digest and to a
signed webhook (a real HTTP receiver on loopback), sent after the step's transaction by the
delivery pass, in each person's language, with retries that wait longer each time."""
import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from engine.core.db import unit_of_work
from engine.core.models import Delivery, NotificationPreference, User
from outbox.dispatch import deliver_pass

from .conftest import start_project


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default)))
        return "250 OK"


@pytest.fixture
def smtp(web):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = web.services.settings
    settings.smtp_host, settings.smtp_port, settings.smtp_from = "127.0.0.1", controller.port, "sanshe@xiangdong.example"
    yield inbox
    controller.stop()
    settings.smtp_host = ""


def now(web):
    return web.services.runtime.clock()


def test_e_mail_at_once_and_a_daily_digest_each_in_the_persons_language(web, as_user, smtp):
    c = as_user("committee")
    page = c.get("/notifications/settings").get_data(as_text=True)
    assert "您的角色有新任务" not in page and "有任务交给我的角色" in page
    saved = c.post("/notifications/settings", {"email": "chen@xiangdong.example", "channel-task_ready": "email"})
    assert saved.status_code == 302
    other = as_user("committee2")
    other.post("/notifications/settings", {"email": "wang@xiangdong.example", "channel-task_ready": "digest"})
    with unit_of_work(web.services.session_factory) as session:
        session.execute(update(User).where(User.username == "committee2").values(locale="en"))

    start_project(web)
    at = now(web)
    done = deliver_pass(web.services, at)
    assert done.sent == {"email": 1} and done.failed == {}
    [(to, message)] = smtp.messages
    assert to == ["chen@xiangdong.example"] and "您的角色有新任务" in message["Subject"]
    body = message.get_content()
    assert "committee" in body and "http://" in body and "/tasks/" in body
    assert deliver_pass(web.services, at + timedelta(minutes=5)).sent == {}  # sent once

    later = deliver_pass(web.services, at + timedelta(days=1, minutes=1))  # past the next 8 o'clock
    assert later.sent == {"digest": 1}
    to, digest = smtp.messages[-1]
    assert to == ["wang@xiangdong.example"] and "1" in digest["Subject"]
    assert "A task for your role" in digest.get_content()


def test_bad_settings_are_refused_and_change_nothing(web, as_user):
    c = as_user("committee")
    for form in ({"email": "chen@xiangdong.example", "channel-task_ready": "fax"},
                 {"email": "", "channel-task_ready": "email"},
                 {"email": "not an address", "channel-task_ready": "app"}):
        response = c.post("/notifications/settings", form)
        assert response.status_code == 422
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalars(select(NotificationPreference)).all() == []
        assert session.scalar(select(User.email).where(User.username == "committee")) is None


def test_nothing_is_e_mailed_while_smtp_is_not_configured(web, as_user):
    c = as_user("committee")
    c.post("/notifications/settings", {"email": "chen@xiangdong.example", "channel-task_ready": "email"})
    start_project(web)
    assert deliver_pass(web.services, now(web)).routed == 0
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalars(select(Delivery)).all() == []


class Receiver(BaseHTTPRequestHandler):
    answers: list = []
    calls: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append((dict(self.headers), body))
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(web):
    Receiver.answers, Receiver.calls = [500], []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = web.services.settings
    settings.webhook_url = f"http://127.0.0.1:{server.server_port}/sms"
    settings.webhook_secret = "town-it-shared-secret"
    yield Receiver
    server.shutdown()
    thread.join(5)
    server.server_close()
    settings.webhook_url = ""


def test_the_webhook_gets_each_notification_signed_and_is_tried_again_later(web, receiver):
    start_project(web)
    at = now(web)
    first = deliver_pass(web.services, at)  # both committee members hear of the task; the first call gets a 500
    assert (first.failed, first.sent, len(receiver.calls)) == ({"webhook": 1}, {"webhook": 1}, 2)
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(r.username, r.state, r.attempts) for r in rows] == [("committee", "pending", 1),
                                                                      ("committee2", "sent", 1)]
        assert rows[0].next_at == at + timedelta(seconds=30)
    assert deliver_pass(web.services, at + timedelta(seconds=10)).sent == {}  # not yet: it waits
    assert len(receiver.calls) == 2
    assert deliver_pass(web.services, at + timedelta(seconds=31)).sent == {"webhook": 1}
    headers, body = receiver.calls[-1]
    expected = "sha256=" + hmac.new(b"town-it-shared-secret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Sanshe-Signature"], expected)
    payload = json.loads(body)
    assert payload["username"] == "committee" and payload["kind"] == "task_ready"
    assert payload["text"].startswith("您的角色有新任务") and "/tasks/" in payload["link"]
    assert deliver_pass(web.services, at + timedelta(minutes=10)).sent == {}


def test_a_webhook_that_keeps_failing_is_given_up(web, receiver):
    receiver.answers = [500] * 10
    web.services.settings.delivery_attempts = 3
    try:
        start_project(web)
        at = now(web)
        for seconds in (0, 31, 92, 400):
            deliver_pass(web.services, at + timedelta(seconds=seconds))
        with unit_of_work(web.services.session_factory, readonly=True) as session:
            rows = session.scalars(select(Delivery)).all()
        assert [(r.state, r.attempts) for r in rows] == [("failed", 3)] * 2 and len(receiver.calls) == 6
        assert all("500" in r.last_error for r in rows)
    finally:
        web.services.settings.delivery_attempts = 6
