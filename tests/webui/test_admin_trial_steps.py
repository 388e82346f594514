"""The trial run step by step in the admin pages: the administrator types a task's data by
hand (refused data is explained in Chinese and changes nothing), moves the clock to the
next timer and sends a message the project waits for; the report lists the ways out of
every decision, taken or not."""
import re
from datetime import datetime

from engine.core.db import unit_of_work
from engine.core.models import Task
from engine.method.models import Budget
from tests import diagram_edits as edits
from tests.workers.test_trial_steps import until_open
from workers.trial_sandbox import Sandbox


def start_steps(web, admin):
    with unit_of_work(web.services.session_factory) as session:
        session.add(Budget(town_id=web.world.town.id, year=datetime.now().year, total_fen=100_000_000))
    admin.get("/admin/definitions/1/edit")
    response = admin.post("/admin/definitions/1/trial", {"bpmn_xml": edits.original(), "mode": "steps"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    token = re.search(r'action="/admin/trial/([0-9a-f]{32})/step"', page).group(1)
    return token, page


def open_task_id(page):
    return re.search(r'name="task_id" value="([^"]+)"', page).group(1)


def test_data_typed_by_hand_is_checked_and_refused_data_changes_nothing(web, as_user):
    admin = as_user("admin")
    token, page = start_steps(web, admin)
    assert "逐步" in admin.get("/admin/definitions/1/edit").get_data(as_text=True)
    assert 'data-open-task="confirm_catalog_item"' in page and "手动填写" in page
    # A file field takes no upload in a trial: a generated sample file stands in, and the page says so.
    note = re.search(r'data-testid="trial-sample-file" data-field="sample.screening_documents">(.*?)</div>', page, re.S)
    assert note and "筛选材料" in note.group(1) and "试运行样例文件.txt" in note.group(1)
    assert 'type="file"' not in page
    task_id = open_task_id(page)
    url = f"/admin/trial/{token}/step"
    refused = admin.post(url, {"action": "fill", "task_id": task_id})  # required fields left empty
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'data-testid="trial-refused"' in text and "试运行中没有任何改动" in text
    assert "field-error" in text  # the reason stands at the field
    assert f'value="{task_id}"' in text and 'data-testid="by-hand"' not in text
    box = Sandbox.open(token, web.services.settings)
    form = dict(box.open_tasks()[0][1])
    box.close()
    typed = {f"sample.{name}": "1" for name, prop in form["properties"].items() if prop.get("type") == "boolean"}
    typed.update({f"sample.{name}": "人工填写" for name, prop in form["properties"].items()
                  if prop.get("type") == "string" and "enum" not in prop and not prop.get("format")})
    typed.update({f"sample.{name}": prop["enum"][0] for name, prop in form["properties"].items() if "enum" in prop})
    done = admin.post(url, {"action": "fill", "task_id": task_id, **typed})
    text = done.get_data(as_text=True)
    assert done.status_code == 200, re.findall(r'field-error[^<]*>([^<]*)', text)
    assert 'data-testid="by-hand"' in text and "手动填写" in text
    assert f'name="task_id" value="{task_id}"' not in text  # no longer open
    box = Sandbox.open(token, web.services.settings)
    with unit_of_work(box.services.session_factory, readonly=True) as session:
        assert session.get(Task, task_id).data["screening_documents"].endswith(":试运行样例文件.txt")
    box.close()


def test_the_clock_is_moved_to_the_next_timer_and_a_message_is_sent(web, as_user):
    admin = as_user("admin")
    token, _page = start_steps(web, admin)
    box = Sandbox.open(token, web.services.settings)
    until_open(box, "cast_ballot")
    box.close()
    url = f"/admin/trial/{token}/step"
    assert admin.post(url, {"action": "complete", "task_id": "nope"}).status_code == 409
    moved = admin.post(url, {"action": "timer"}).get_data(as_text=True)
    assert 'data-testid="trial-timers"' in moved and "表决截止" in moved and "触发了" in moved
    assert 'data-flow="flow_gw_vote_passed_to_decide_failed_vote"' in moved  # the ways out are listed
    box = Sandbox.open(token, web.services.settings)
    for _ in range(80):
        if "coordination_requested" in box.waiting_messages():
            break
        box.complete(box.open_tasks()[0][0].task_id)
    box.close()
    listed = admin.post(url, {"action": "message", "message": "no_such"})
    assert listed.status_code == 422
    sent = admin.post(url, {"action": "message", "message": "coordination_requested"}).get_data(as_text=True)
    assert 'data-testid="trial-messages"' in sent and "申请协调" in sent
    assert 'data-open-task="coordination_meeting"' in sent


def test_a_trial_that_is_gone_or_an_unknown_step_is_refused(web, as_user):
    admin = as_user("admin")
    assert admin.post("/admin/trial/" + "0" * 32 + "/step", {"action": "timer"}).status_code == 404
    assert admin.post("/admin/trial/../../etc/step", {"action": "timer"}).status_code == 404
    token, _page = start_steps(web, admin)
    assert admin.post(f"/admin/trial/{token}/step", {"action": "jump"}).status_code == 422


def test_a_role_nobody_holds_is_named_and_an_unnamed_decision_shows_its_id(web, as_user):
    from sqlalchemy import delete

    from engine.core.models import RoleGrant
    with unit_of_work(web.services.session_factory) as session:
        session.execute(delete(RoleGrant).where(RoleGrant.role == "community_committee"))
    admin = as_user("admin")
    admin.get("/admin/definitions/1/edit")
    xml = edits.original().replace('id="gw_eligible" name="符合资格？(Eligible?)"', 'id="gw_eligible"')
    assert 'id="gw_eligible" default=' in xml
    response = admin.post("/admin/definitions/1/trial", {"bpmn_xml": xml, "mode": "steps"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    cell = re.search(r'<td rowspan="\d+" data-gateway="gw_eligible">(.*?)</td>', page, re.S).group(1)
    assert cell == '未命名的判断 <code class="element-id" data-testid="unnamed-id">gw_eligible</code>'
    named = re.search(r'<td rowspan="\d+" data-gateway="gw_qualification">(.*?)</td>', page, re.S).group(1)
    assert "审批结果" in named and "element-id" not in named
    token = re.search(r'action="/admin/trial/([0-9a-f]{32})/step"', page).group(1)
    ran = admin.post(f"/admin/trial/{token}/step", {"action": "run"}).get_data(as_text=True)
    problem = re.search(r'<p class="reasons">([^<]*)</p>', ran).group(1)
    assert "没有人担任社区居委会" in problem and "community_committee" not in problem
