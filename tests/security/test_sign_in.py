"""Sign-in cannot be turned against people: no lock-out, no account probing, no racing
past the count, no weak passwords, no session that outlives sign-out (SQLite and PostgreSQL)."""
import statistics
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.core import throttle
from engine.core import users as user_store
from engine.core.db import unit_of_work
from engine.core.models import SignInThrottle, User, utcnow
from engine.errors import ValidationError
from tests.factories import PASSWORD, add_user
from tests.webui.conftest import Client


def test_guessing_a_representatives_password_cannot_lock_them_out_before_a_vote(web):
    settings = web.services.settings
    attacker = Client(web.app)
    for _ in range(settings.login_account_free_failures + 3):
        attacker.login("rep1", "wrong-guess-123")
    refused = attacker.login("rep1", PASSWORD)
    assert refused.status_code == 429
    # Growing delays, never a lock: once the wait (at most the cap) has passed, the right
    # password works again, and the wait never grows past the cap.
    limit = throttle.Limit(settings.login_account_free_failures, settings.login_account_max_delay)
    assert limit.delay_after(10_000) == settings.login_account_max_delay <= 60
    with unit_of_work(web.services.session_factory) as session:
        later = utcnow() + timedelta(seconds=settings.login_account_max_delay + 1)
        assert throttle.reserve(session, {throttle.account_key("rep1"): limit}, later) == 0


def test_growing_delays_double_after_the_free_failures():
    limit = throttle.Limit(free=5, max_delay=60)
    assert [limit.delay_after(n) for n in range(1, 12)] == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32]
    assert limit.delay_after(12) == limit.delay_after(100) == 60


def test_unknown_and_known_accounts_get_the_same_answer(web):
    known, unknown = Client(web.app), Client(web.app)
    answers = []
    for client, name in ((known, "town"), (unknown, "no-such-person")):
        responses = [client.login(name, "wrong-guess-123") for _ in range(web.services.settings.login_account_free_failures + 2)]
        answers.append([(r.status_code, _message(r)) for r in responses])
    assert answers[0] == answers[1]
    assert answers[0][-1][0] == 429


def _message(response) -> str:
    page = response.get_data(as_text=True)
    start = page.find('role="alert">')
    return page[start:page.find("<", start + 13)] if start >= 0 else ""


def test_unknown_and_known_accounts_take_as_long_to_refuse(services):
    """With the production argon2 cost: a timing difference would reveal which names exist."""
    from tests.webui.conftest import build_web

    web = build_web(services)
    client = Client(web.app)
    timings = {"town": [], "nobody-here": []}
    for _ in range(3):
        for name in timings:
            started = time.perf_counter()
            response = client.login(name, "wrong-guess-123")
            timings[name].append(time.perf_counter() - started)
            assert response.status_code == 401
    known, unknown = (statistics.median(timings[n]) for n in ("town", "nobody-here"))
    assert abs(known - unknown) < 0.5 * max(known, unknown), timings


def test_concurrent_guesses_cannot_slip_past_the_count(web):
    limit = throttle.Limit(free=3, max_delay=60)
    key = throttle.account_key("rep2")
    allowed = []
    barrier = threading.Barrier(12)

    def guess():
        barrier.wait()
        with unit_of_work(web.services.session_factory) as session:
            if throttle.reserve(session, {key: limit}, utcnow()) == 0:
                allowed.append(1)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # three free tries and the fourth (which starts the first delay); nothing more
    assert len(allowed) == limit.free + 1
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert throttle.failures(session, key) == limit.free + 1


def _office(web, people: int) -> list[str]:
    """``people`` colleagues of one community, each with an account of their own."""
    names = [f"office_{i:02d}" for i in range(people)]
    with unit_of_work(web.services.session_factory) as session:
        for name in names:
            person = add_user(session, name, "community_committee", "community", web.world.community.id)
            person.password_hash = user_store.hash_password(PASSWORD)
    return names


def test_an_office_behind_one_address_signing_in_at_once_is_all_let_in(web):
    """Twice the address's free failures, all right passwords, all at the same moment."""
    people = 2 * web.services.settings.login_address_free_failures + 4
    clients = {name: Client(web.app) for name in _office(web, people)}
    for client in clients.values():
        client.get("/login")
    barrier = threading.Barrier(people)
    statuses: list[int] = []

    def sign_in(name):
        barrier.wait()
        statuses.append(clients[name].post("/login", {"username": name, "password": PASSWORD}).status_code)

    threads = [threading.Thread(target=sign_in, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [302] * people
    assert all(client.http.get("/inbox").status_code == 200 for client in clients.values())
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert throttle.failures(session, throttle.address_key("127.0.0.1")) == 0


def test_wrong_passwords_from_one_address_are_all_counted_and_then_make_it_wait(web):
    """Guesses at many accounts at once from one address: none is lost; past the free ones it waits."""
    free = web.services.settings.login_address_free_failures
    names = _office(web, free)
    clients = {name: Client(web.app) for name in names}
    for client in clients.values():
        client.get("/login")
    barrier = threading.Barrier(free)
    statuses: list[int] = []

    def guess(name):
        barrier.wait()
        statuses.append(clients[name].post("/login", {"username": name, "password": "wrong-guess-123"}).status_code)

    threads = [threading.Thread(target=guess, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [401] * free
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert throttle.failures(session, throttle.address_key("127.0.0.1")) == free
    assert Client(web.app).login("rep1", "wrong-guess-123").status_code == 401  # the first past the free ones
    # From then on every try from that address, whatever the account, waits (1 s, then longer).
    address = throttle.address_key("127.0.0.1")
    with unit_of_work(web.services.session_factory) as session:
        failed_at = session.scalar(select(SignInThrottle.last_failure_at).where(SignInThrottle.key == address))
        assert throttle.reserve(session, {throttle.account_key("committee"): throttle.Limit(5, 60)}, failed_at,
                                watched=[address]) == 1.0


@pytest.mark.parametrize("password", ["password", "12345678", "        ", "          ", "1234567890",
                                      "qwertyuiop", "password123", "short-1", "committee1"])
def test_weak_passwords_are_refused_when_an_administrator_creates_an_account(web, as_user, password):
    admin = as_user("admin")
    admin.get("/admin/users")
    response = admin.post("/admin/users", {"username": "newperson", "display_name": "新人", "password": password})
    assert response.status_code == 422
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        assert session.scalar(select(User).where(User.username == "newperson")) is None


def test_weak_passwords_are_refused_by_the_engine():
    for password in ("password", "12345678", " " * 12, "\t" * 12, "abcdefghij", "x" * 201):
        with pytest.raises(ValidationError):
            user_store.hash_password(password)
    assert user_store.password_problem("demo-admin", "admin") is None  # the demo accounts' passwords


def test_a_cookie_copied_before_sign_out_no_longer_works(web, as_user):
    browser = as_user("committee")
    stolen = Client(web.app)
    stolen.http.set_cookie("sanshe_session", browser.http.get_cookie("sanshe_session").value)
    assert stolen.http.get("/inbox").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert stolen.http.get("/inbox").status_code == 302


def test_a_password_change_signs_the_person_out_everywhere_else(web, as_user):
    phone, laptop = as_user("committee"), as_user("committee")
    phone.get("/password")
    response = phone.post("/password", {"current_password": PASSWORD, "new_password": "a-new-long-secret-7",
                                        "repeat_password": "a-new-long-secret-7"})
    assert response.status_code == 302
    assert phone.http.get("/inbox").status_code == 200  # this device stays signed in
    assert laptop.http.get("/inbox").status_code == 302
    assert Client(web.app).login("committee", "a-new-long-secret-7").status_code == 302


@pytest.mark.parametrize("form, field", [
    ({"current_password": "not-my-password-1", "new_password": "a-new-long-secret-7",
      "repeat_password": "a-new-long-secret-7"}, "当前密码不正确"),
    ({"current_password": PASSWORD, "new_password": "password123", "repeat_password": "password123"}, "太常见"),
    ({"current_password": PASSWORD, "new_password": "a-new-long-secret-7", "repeat_password": "other-7"}, "不一致"),
])
def test_a_refused_password_change_changes_nothing(web, as_user, form, field):
    phone, laptop = as_user("committee"), as_user("committee")
    phone.get("/password")
    response = phone.post("/password", form)
    assert response.status_code == 422 and field in response.get_data(as_text=True)
    assert laptop.http.get("/inbox").status_code == 200
    assert Client(web.app).login("committee").status_code == 302
