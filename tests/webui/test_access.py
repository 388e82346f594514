"""Who gets what: role x scope x route. Others' work is 404 (its existence is not revealed)."""
import pytest

from .conftest import ready_task, start_project

# Step 1's task is in the community committee's lane of community A (town A, org1).
MATRIX = {
    # username: (task page, instance page, start page)
    "committee": (200, 200, 403),
    "committee2": (200, 200, 403),
    "committee_b": (404, 404, 403),
    "town": (404, 200, 403),
    "supervisor": (404, 200, 403),
    "orgstaff": (404, 200, 200),
    "otherstaff": (404, 404, 200),
    "rep0": (404, 200, 403),
    "panel0": (404, 200, 403),
    "admin": (404, 200, 403),
}


@pytest.fixture
def project(web):
    instance_id = start_project(web)
    return instance_id, ready_task(web, instance_id).id


@pytest.mark.parametrize("username", sorted(MATRIX))
def test_access_matrix(web, as_user, project, username):
    instance_id, task_id = project
    task_page, instance_page, start_page = MATRIX[username]
    c = as_user(username)
    assert c.get(f"/tasks/{task_id}").status_code == task_page
    assert c.get(f"/instances/{instance_id}").status_code == instance_page
    assert c.get(f"/instances/{instance_id}/diagram.bpmn").status_code == instance_page
    assert c.get("/instances/new").status_code == start_page
    claim = c.post(f"/tasks/{task_id}/claim")
    assert claim.status_code == (302 if task_page == 200 else 404)
    if claim.status_code == 302:
        c.post(f"/tasks/{task_id}/unclaim")
    for url in ("/inbox", "/inbox?view=mine", "/instances"):
        assert c.get(url).status_code == 200
    assert ("确认转移事项" in c.get("/inbox").get_data(as_text=True)) == (task_page == 200)
