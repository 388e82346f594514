"""engine/core/users.py and engine/queries/inbox.py behind the pages: accounts, passwords, grants, and the
inbox across several grants, assignees, caps and pages (SQLite and PostgreSQL)."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.queries import inbox
from engine.core import users
from engine.core.db import unit_of_work
from engine.errors import ConflictError, ValidationError
from engine.core.models import Task, User, utcnow
from tests.factories import make_world

from .conftest import build_web, start_project


def test_accounts_passwords_and_grants(sqlite_services):
    with unit_of_work(sqlite_services.session_factory) as session:
        world = make_world(session)
        user = users.create_user(session, "li", "long-enough-1", "李主任")
        with pytest.raises(ConflictError):
            users.create_user(session, "li", "long-enough-1")
        with pytest.raises(ValidationError):
            users.create_user(session, "wang", "short")
        assert user.password_hash.startswith("$argon2") and "long-enough-1" not in user.password_hash
        assert users.authenticate(session, "li", "long-enough-1").ok
        assert not users.authenticate(session, "nobody", "long-enough-1").ok
        assert not users.authenticate(session, "li", "wrong-password").ok
        users.grant_role(session, user, "community_committee", world.community.id)
        users.grant_role(session, user, "community_committee", world.community.id)  # idempotent
        assert [u.username for u in users.members(session, "community_committee", "community", world.community.id)] \
            == ["committee", "li"]
        with pytest.raises(ValidationError):
            users.grant_role(session, user, "town_government")  # needs a town
        assert users.revoke_role(session, user, "community_committee", world.community.id)
        users.deactivate(session, user)
        assert not users.authenticate(session, "li", "long-enough-1").ok


def test_a_password_changed_or_an_account_closed_during_the_check_does_not_sign_in(sqlite_services):
    """The slow check runs outside any transaction; its result counts only if nothing changed meanwhile."""
    with unit_of_work(sqlite_services.session_factory) as session:
        users.create_user(session, "li", "long-enough-1", "李主任")
        users.create_user(session, "wu", "long-enough-2", "吴主任")
    with unit_of_work(sqlite_services.session_factory, readonly=True) as session:
        li, wu = users.credentials_of(session, "li"), users.credentials_of(session, "wu")
    assert users.password_matches(li, "long-enough-1") and users.password_matches(wu, "long-enough-2")
    with unit_of_work(sqlite_services.session_factory) as session:
        users.change_password(session, users.find_user(session, li.user_id), "long-enough-1", "a-new-long-secret-7")
        users.deactivate(session, users.find_user(session, wu.user_id))
    with unit_of_work(sqlite_services.session_factory) as session:
        assert not users.confirm_sign_in(session, li, "long-enough-1").ok
        assert not users.confirm_sign_in(session, wu, "long-enough-2").ok
        assert not users.password_matches(users.credentials_of(session, "nobody"), "long-enough-1")


def _inbox_checks(web):
    instance_id = start_project(web)
    now = utcnow()
    with unit_of_work(web.services.session_factory) as session:
        base = session.scalars(select(Task).where(Task.instance_id == instance_id)).one()
        chair = session.scalar(select(User).where(User.username == "committee"))
        users.grant_role(session, chair, "evaluation_panel", web.world.community.id)
        for i in range(12):
            role, assignee = ("evaluation_panel", "committee" if i % 2 else "panel0") if i < 6 else ("community_committee", None)
            session.add(Task(id=str(uuid.uuid4()), instance_id=instance_id, definition_id=base.definition_id,
                             bpmn_id=f"t{i}", name=f"t{i}", role=role, step=7 if i < 6 else 3, scope_type="community",
                             scope_id=web.world.community.id, town_id=base.town_id, community_id=base.community_id,
                             organization_id=base.organization_id, assignee=assignee, state="ready",
                             created_at=now + timedelta(seconds=i)))
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        chair = session.scalar(select(User).where(User.username == "committee"))
        page = inbox.inbox_page(session, chair, inbox.InboxFilter(per_page=5))
        # Two grants merged newest first; panel tasks assigned to someone else are not shown.
        assert [i.task.name for i in page.items] == ["t11", "t10", "t9", "t8", "t7"] and page.has_next
        assert page.counts_by_step == {1: 1, 3: 6, 7: 3} and page.total == 10
        second = inbox.inbox_page(session, chair, inbox.InboxFilter(per_page=5, page=2))
        assert [i.task.name for i in second.items] == ["t6", "t5", "t3", "t1", base.name] and not second.has_next
        mine = inbox.inbox_page(session, chair, inbox.InboxFilter(view="mine"))
        assert sorted(i.task.name for i in mine.items) == ["t1", "t3", "t5"]
        assert inbox.step_counts(session, chair, inbox.InboxFilter(), cap=2) == {1: 1, 3: 2, 7: 2}
        assert inbox.count_tasks(session, chair, "open") == 10
        # The other tab's count comes with the page, whatever the page's own filter.
        assert inbox.inbox_page(session, chair, inbox.InboxFilter(step=3), other_view="mine").other_total == 3
        assert inbox.inbox_page(session, chair, inbox.InboxFilter(view="mine"), other_view="open").other_total == 10
        assert page.other_total is None
        for sort in inbox.SORTS:  # the next page from the cursor is the page the offset gives
            first = inbox.inbox_page(session, chair, inbox.InboxFilter(per_page=4, sort=sort))
            by_offset = inbox.inbox_page(session, chair, inbox.InboxFilter(per_page=4, sort=sort, page=2))
            by_cursor = inbox.inbox_page(session, chair, inbox.InboxFilter(per_page=4, sort=sort, page=2,
                                                                           after=first.next_after))
            assert [i.task.id for i in by_cursor.items] == [i.task.id for i in by_offset.items], sort


def test_inbox_queries_on_sqlite(web):
    _inbox_checks(web)


@pytest.mark.postgres
def test_inbox_queries_and_pages_on_postgresql(pg_schema_url):
    from tests.conftest import make_services
    from .conftest import Client

    services = make_services(pg_schema_url)
    try:
        web = build_web(services)
        _inbox_checks(web)
        client = Client(web.app)
        client.login("committee")
        assert "t11" in client.get("/inbox").get_data(as_text=True)
        assert client.get("/instances").status_code == 200
        assert Client(web.app).login("committee_b").status_code == 302
    finally:
        services.db.dispose()
