"""A signed-in person's page costs one database transaction: the person is loaded in the
transaction the view then continues (SQLite and PostgreSQL)."""
import contextlib

from sqlalchemy import event

from tests.webui.conftest import ready_task, start_project


@contextlib.contextmanager
def transactions(web):
    """Counts the transactions begun on the app's database meanwhile."""
    begun = []

    def count(_conn):
        begun.append(1)

    event.listen(web.services.db, "begin", count)
    try:
        yield begun
    finally:
        event.remove(web.services.db, "begin", count)


def test_the_inbox_and_a_task_page_take_one_transaction_each(web, as_user):
    task = ready_task(web, start_project(web))
    committee = as_user("committee")
    assert committee.get("/inbox").status_code == 200  # the first heartbeat of this person is written now
    with transactions(web) as begun:
        assert committee.get("/inbox?view=open").status_code == 200
    assert len(begun) == 1
    with transactions(web) as begun:
        page = committee.get(f"/tasks/{task.id}")
    assert page.status_code == 200 and "居家养老服务项目" in page.get_data(as_text=True)
    assert len(begun) == 1


def test_a_claim_is_one_transaction_on_postgresql_and_at_most_two_on_sqlite(web, as_user):
    task = ready_task(web, start_project(web))
    committee = as_user("committee")
    committee.get(f"/tasks/{task.id}")
    with transactions(web) as begun:
        assert committee.post(f"/tasks/{task.id}/claim").status_code == 302
    # SQLite: a write needs its lock from the start, so the read the person was loaded in ends first.
    assert len(begun) == (2 if web.services.db.dialect.name == "sqlite" else 1)
    assert committee.get(f"/tasks/{task.id}").status_code == 200


def test_a_signed_out_or_stale_cookie_still_leads_to_the_sign_in_page(web, as_user):
    committee = as_user("committee")
    assert committee.post("/logout").status_code == 302
    assert committee.http.get("/inbox").status_code == 302
