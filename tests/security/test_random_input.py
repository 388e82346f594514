"""Random data in every form and query parameter the pages offer: never a 500, and a
refused request changes nothing (SQLite and PostgreSQL).

The forms are found the way a browser finds them: by reading the pages each role sees.
"""
import hashlib
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html

from engine.core.db import Base, unit_of_work
from tests.webui.conftest import Client, ready_task, start_project

# Tables whose rows a refused request may still change: the sign-in throttle counts refusals.
MAY_CHANGE_ON_REFUSAL = {"sign_in_throttles"}
# Forms that end the session a run depends on.
SKIPPED_ACTIONS = ("/logout",)
# Query parameters the pages read that no form on them names.
QUERY_PARAMETERS = {
    "/inbox": ["page", "per_page", "step", "community", "organization", "view", "sort", "after"],
    "/instances": ["page", "status", "community", "step", "version", "process"],
    "/admin/audit": ["page", "action"],
    "/admin/diff": ["old", "new"],
    "/admin/migrate": ["target", "from"],
    "/login": ["next"],
    "/mining/": ["community", "from", "to", "version"],
}
NASTY = ["", "0", "-1", "9" * 30, str(2**63), str(2**31), "1e9", "\x00", "a\r\nb", "x" * 5000,
         "<script>alert(1)</script>", "' OR 1=1 --", "１２", "🙂", "{\"a\": 1}", "1:2", "9:" + "9" * 25,
         "\ud7ff", "/\\evil.example", "%00", "NaN", "-0", "0x10", " 3 "]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str))


@dataclass(frozen=True)
class Form:
    """One form (or query string) a signed-in person can send."""
    role: str
    method: str
    action: str
    fields: tuple[str, ...]


def _forms_on(page: str, url: str, role: str) -> list[Form]:
    tree = html.fromstring(page)
    found = []
    for form in tree.iter("form"):
        action = form.get("action") or url.split("?")[0]
        if action.startswith(SKIPPED_ACTIONS):
            continue
        names = {el.get("name") for el in form.iter("input", "select", "textarea", "button")
                 if el.get("name") and el.get("name") != "csrf_token"}
        found.append(Form(role, (form.get("method") or "get").lower(), action, tuple(sorted(names))))
    return found


def _discover(web) -> tuple[dict, list[Form]]:
    """Clients per role and every form on the pages they see."""
    instance_id = start_project(web, title="随机输入项目")
    task_id = ready_task(web, instance_id).id
    pages = {
        "orgstaff": ["/inbox", "/instances", "/instances/new", f"/instances/{instance_id}", "/password"],
        "committee": ["/inbox", f"/instances/{instance_id}", "/mining/"],
        "admin": ["/admin/", "/admin/users", f"/admin/users/{web.world.users.reps[1].id}", "/admin/upload",
                  "/admin/audit", "/admin/incidents", "/admin/definitions/1", "/admin/definitions/1/edit",
                  "/admin/workers"],
    }
    clients, forms = {}, set()
    for role, urls in pages.items():
        client = clients[role] = Client(web.app)
        assert client.login(role).status_code == 302
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            forms.update(_forms_on(response.get_data(as_text=True), url, role))
        task_page = client.get(f"/tasks/{task_id}")  # the first task: open to one of the roles
        if task_page.status_code == 200:
            forms.update(_forms_on(task_page.get_data(as_text=True), f"/tasks/{task_id}", role))
        for url, names in QUERY_PARAMETERS.items():
            forms.add(Form(role, "get", url, tuple(names)))
    return clients, sorted(forms, key=lambda f: (f.role, f.action, f.method))


def _fingerprint(web) -> str:
    """A digest of every row of every table (except those a refusal may change)."""
    digest = hashlib.sha256()
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        for table in Base.metadata.sorted_tables:
            if table.name in MAY_CHANGE_ON_REFUSAL:
                continue
            # Raw rows, in primary-key order: no type conversion that a stored value could trip.
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = session.connection().exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY {order}").all()
            digest.update(repr((table.name, rows)).encode())
    return digest.hexdigest()


def test_random_input_in_every_form_never_breaks_a_page_nor_changes_anything_when_refused(web):
    clients, forms = _discover(web)
    assert len(forms) > 25, forms  # the crawl found the pages' forms

    state = {"fingerprint": _fingerprint(web)}

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(form=st.sampled_from(forms), data=st.data())
    def send(form: Form, data: st.DataObject) -> None:
        values = {name: data.draw(VALUES, label=name) for name in form.fields if data.draw(st.booleans())}
        client = clients[form.role]
        if form.method == "get":
            response = client.http.get(form.action, query_string=values)
        else:
            response = client.post(form.action, values)
        assert response.status_code < 500, (form, values, response.get_data(as_text=True)[:500])
        after = _fingerprint(web)
        if response.status_code >= 400:
            assert after == state["fingerprint"], (form, values, response.status_code)
        state["fingerprint"] = after
        if response.status_code == 302 and "/login" in (response.location or ""):
            assert client.login(form.role).status_code == 302  # signed out by the request: sign in again

    send()
