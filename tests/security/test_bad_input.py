"""Bad input gets a 4xx with a message and changes nothing; it never breaks a page (500),
and a failing statement never writes a password hash into the log (SQLite and PostgreSQL)."""
import io
import logging
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.core.db import unit_of_work
from engine.core.models import Instance, User

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
HUGE = "9" * 30
BIG = str(2**63)


def _count(web, model) -> int:
    with unit_of_work(web.services.session_factory, readonly=True) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("next_url", ["/inbox%0d%0aSet-Cookie:%20evil=1", "/inbox%0aX-Injected:%201",
                                      "/%0d%0a", "/\\evil.example", "/inbox%00"])
def test_header_injection_through_the_next_parameter_is_ignored(web, next_url):
    from tests.factories import PASSWORD
    from tests.webui.conftest import Client

    client = Client(web.app)
    client.get("/login")
    response = client.post(f"/login?next={next_url}", {"username": "committee", "password": PASSWORD})
    assert response.status_code in (302, 400)
    assert "evil" not in str(response.headers) and "Injected" not in str(response.headers)


@pytest.mark.parametrize("url", [
    f"/inbox?page={HUGE}", f"/inbox?page={BIG}", f"/inbox?page={2**62}", f"/inbox?step={HUGE}",
    f"/inbox?community={HUGE}", f"/inbox?community={BIG}", f"/inbox?organization={BIG}", f"/inbox?per_page={HUGE}",
    f"/instances?page={HUGE}", f"/instances?page={2**62}", f"/instances?community={BIG}", f"/instances?step={HUGE}",
    f"/instances?version={BIG}", f"/instances?version={HUGE}", f"/instances/{HUGE}", f"/instances/{BIG}",
    f"/instances/{BIG}/diagram.bpmn", "/instances?page=1e9", "/inbox?page=-1",
])
def test_huge_numbers_in_the_address_are_refused_with_a_message(as_user, url):
    response = as_user("committee").http.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert "<h1" in response.get_data(as_text=True) or response.status_code == 404


@pytest.mark.parametrize("url", [f"/admin/audit?page={HUGE}", f"/admin/audit?page={2**62}",
                                 f"/admin/users/{BIG}", f"/admin/definitions/{HUGE}",
                                 f"/admin/diff?old={BIG}&new={HUGE}", "/admin/audit?action=a%00b"])
def test_huge_numbers_and_nul_in_the_administrators_pages_are_refused(as_user, url):
    response = as_user("admin").http.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize("url", ["/instances?process=seven%00step", "/instances?status=%00",
                                 "/inbox?sort=%00", "/tasks/abc%00def", "/inbox?q%00=1"])
def test_nul_characters_are_refused_before_they_reach_the_database(as_user, url):
    response = as_user("committee").http.get(url)
    assert response.status_code in (400, 404), (url, response.status_code)
    if response.status_code == 400:
        assert "NUL" in response.get_data(as_text=True)


def test_an_over_long_project_title_is_refused_and_nothing_starts(web, as_user):
    org = as_user("orgstaff")
    page = org.get("/instances/new").get_data(as_text=True)
    import re
    choice = re.search(r'<option value="(\d+:\d+)"', page).group(1)
    before = _count(web, Instance)
    response = org.post("/instances/new", {"item": choice, "title": "长" * 301})
    assert response.status_code == 422
    assert "300" in response.get_data(as_text=True)
    assert _count(web, Instance) == before
    response = org.post("/instances/new", {"item": f"{BIG}:{HUGE}", "title": "x"})
    assert response.status_code == 422


def test_an_over_long_display_name_is_refused_and_the_log_holds_no_password_hash(web, as_user, caplog):
    admin = as_user("admin")
    admin.get("/admin/users")
    before = _count(web, User)
    with caplog.at_level(logging.DEBUG):
        response = admin.post("/admin/users", {"username": "longname", "display_name": "名" * 201,
                                               "password": "a-good-long-secret-7"})
        long_user = admin.post("/admin/users", {"username": "u" * 81, "display_name": "x",
                                                "password": "a-good-long-secret-7"})
    assert response.status_code == 422 and "200" in response.get_data(as_text=True)
    assert long_user.status_code == 422
    assert _count(web, User) == before
    assert "$argon2" not in caplog.text


def _upload(admin, name: str, content: bytes):
    admin.get("/admin/upload")
    return admin.post("/admin/upload", {"files": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_a_diagram_with_3000_chained_additions_is_refused_not_a_crash(web, as_user):
    xml = (PROCESSES / "seven_step_project.bpmn").read_text(encoding="utf-8")
    chained = "1" + " + 1" * 3000
    xml = xml.replace('project["social_work"] == True', f"{chained} == 3001", 1)
    response = _upload(as_user("admin"), "seven_step_project.bpmn", xml.encode())
    assert response.status_code == 422
    assert "nested too deeply" in response.get_data(as_text=True) or "嵌套" in response.get_data(as_text=True)


def test_a_zip_with_a_bad_checksum_is_refused_with_a_message(web, as_user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("seven_step_project.bpmn", (PROCESSES / "seven_step_project.bpmn").read_bytes())
    data = bytearray(buffer.getvalue())
    start = data.find(b"<?xml")
    data[start + 100] ^= 0xFF  # one byte of the member changed: its CRC no longer matches
    response = _upload(as_user("admin"), "bundle.zip", bytes(data))
    assert response.status_code == 422
    assert "zip" in response.get_data(as_text=True)
