"""``sanshe demo``: the Yueqing pilot driven through all seven steps with the real workers.

Five projects for 203,000 yuan (two social-work projects for 110,000) with revision rounds,
a town send-back, a failed vote that is redone, coordination meetings and an evaluation
panel refused once for having too few members. The shared project driver
(:func:`engine.method.driver.drive`) moves each project: the pilot's people complete their
tasks through the runtime (forms validated as in the web UI) and every service task is done
by the real handlers through the job queue. The engine runs on a simulated clock that moves
by realistic, varied durations, so the event log spans months and holds cycle times worth
mining. ``--projects N`` repeats the plans with variations.
"""
import random
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from engine.method import demo as pilot
from engine.method import funds
from engine.core.access import get_user
from engine.core.db import unit_of_work, upgrade_schema
from engine.core.deployments import deploy, read_bundle
from engine.errors import SansheError
from engine.core.jobs import JobQueue
from engine.core.models import utcnow
from engine.method.driver import People, default_choices, drive, instance_status
from engine.wiring import build_services

from .registry import TOPICS
from .worker import Worker

PROCESS_KEY = "seven_step_project"
START = datetime(2014, 3, 3, 9, 0)


@dataclass(frozen=True)
class Plan:
    community: str
    item: str
    org: str
    title: str
    amount: int
    revisions: int = 0
    failed_vote: bool = False
    send_back: bool = False
    coordination: bool = False
    bad_panel: bool = False
    reports: int = 2


PLANS = [
    Plan("xiangdong", "elderly_home_care", "sunshine", "象东社区居家养老照护项目", 60000, revisions=2,
         coordination=True, reports=3),
    Plan("xiangdong", "neighbour_mediation", "heshilao", "象东社区和事佬邻里调解项目", 30000, revisions=1,
         failed_vote=True),
    Plan("xiangdong", "youth_summer", "growth", "象东社区青少年暑期课堂", 38000, send_back=True),
    Plan("yancheng", "women_children_family", "xinjiayuan", "盐城社区妇女儿童家庭服务项目", 50000, revisions=3,
         coordination=True, bad_panel=True, reports=3),
    Plan("yancheng", "community_culture", "yanpen_arts", "盐城社区文化艺术节", 25000, revisions=1),
]

# Days a task typically waits before it is done: (shortest, longest).
DAYS = {
    "confirm_catalog_item": (2, 6), "approve_qualification": (3, 10), "revise_screening": (2, 5),
    "plan_survey": (7, 15), "write_application": (10, 21), "supervise_before": (2, 6),
    "consultation_meeting": (5, 12), "revise_application": (4, 10), "cast_ballot": (0.1, 1.5),
    "decide_failed_vote": (2, 5), "approve_application": (3, 9), "purchase_decision": (4, 12),
    "sign_purchaser": (2, 7), "sign_contractor": (1, 4), "report_progress": (20, 40),
    "supervise_during": (3, 8), "coordination_meeting": (2, 5), "self_evaluation": (5, 12),
    "write_case_study": (5, 10), "supervise_after": (3, 7), "form_panel": (3, 8), "score_project": (0.5, 4),
    "rectify": (7, 14),
}


class SimClock:
    """Naive-UTC simulated time the demo moves forward."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, days):
        self.now += timedelta(days=days)


def plans_for(count, rng):
    """The five pilot plans, then variations of them."""
    plans = []
    for i in range(count):
        base = PLANS[i % len(PLANS)]
        if i < len(PLANS):
            plans.append(base)
            continue
        plans.append(replace(base, title=f"{base.title}（第{i // len(PLANS) + 1}期）",
                             amount=int(base.amount * rng.uniform(0.8, 1.2)) // 100 * 100,
                             revisions=rng.choice([0, 0, 1, 1, 2, 3, 5]), failed_vote=rng.random() < 0.2,
                             send_back=rng.random() < 0.15, coordination=rng.random() < 0.3,
                             bad_panel=rng.random() < 0.1, reports=rng.choice([1, 2, 2, 3, 4])))
    return plans


def sample(schema: dict[str, Any], today: datetime, rng: random.Random) -> Any:
    """Plausible data for a JSON Schema: required fields filled, enums take their first value."""
    kind = schema.get("type")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties", {})
        return {name: sample(props[name], today, rng) for name in schema.get("required", []) if name in props}
    if kind == "array":
        return [sample(schema.get("items", {}), today, rng) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind in ("integer", "number"):
        return max(int(schema.get("minimum", 0)), min(int(schema.get("maximum", 10**6)), rng.randint(20, 200)))
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return today.date().isoformat()
    text = schema.get("title") or "记录"
    return text if len(text) >= schema.get("minLength", 0) else text + "。" * schema["minLength"]


def choices_for(plan, rng):
    """What the pilot's people decide and write in ``plan``'s project (by form field), on top of
    :func:`~engine.method.driver.default_choices`: votes vary, scores and counts are drawn."""
    choices = default_choices(panel=(), rounds=plan.revisions, failed_votes=int(plan.failed_vote),
                              send_backs=int(plan.send_back), reports=plan.reports)
    against = choices["ballot"]  # "no" while the vote is to fail: most representatives vote against
    first = plan.amount * 3 // 10
    choices.update({
        "application_title": plan.title, "application_budget_total": plan.amount,
        "application_goals": lambda: f"{plan.title}：服务覆盖 {rng.randint(80, 400)} 名居民",
        "revision_response": "已按恳谈会意见修改",
        "ballot": lambda: rng.choice(["no", "no", "yes"]) if against() == "no" else rng.choice(["yes"] * 6 + ["no", "abstain"]),
        "failed_vote_reason": "补充说明后重新表决",
        "purchase_amount": plan.amount, "purchase_first_installment": first,
        "purchase_final_installment": plan.amount - first, "purchase_funding_source": "镇级财政购买服务专项资金",
        "purchase_acceptance_criteria": ["按计划完成服务", "评议平均分不低于60分", "提交自评报告"],
        "progress_beneficiaries": lambda: rng.randint(20, 150),
        "coordination_outcome": "resolved",
        "self_evaluation_goals_met": lambda: rng.choice(["fully", "mostly"]),
        "panel_method": "听取汇报、实地查看、问卷回访",
        "panel_score": lambda: rng.randint(72, 93),
    })
    return choices


class PilotPeople(People):
    """The pilot's people on one project: a task waits in the inbox for a while, is claimed and
    worked on for a while (realistic, varied durations on the simulated clock); forms get
    plausible text; the project goes as ``plan`` says, with a coordination meeting called
    during delivery when the plan has one."""

    def __init__(self, services, plan, clock, rng, community_id, instance_id):
        super().__init__(choices_for(plan, rng))
        self.services, self.plan, self.clock, self.rng = services, plan, clock, rng
        self.community_id, self.instance_id = community_id, instance_id
        self.bad_panel, self.coordination, self.reports, self.working = plan.bad_panel, plan.coordination, 0, 0.0

    def claim(self, task):
        low, high = DAYS.get(task.bpmn_id, (1, 3))
        # Part of a task's time is waiting in the inbox, the rest is work after claiming it.
        total, waiting_share = self.rng.uniform(low, high), self.rng.uniform(0.2, 0.7)
        self.clock.advance(total * waiting_share)
        self.working = total * (1 - waiting_share)
        return True

    def completing(self, task):
        self.clock.advance(self.working)

    def data(self, task, actor, form):
        data: dict[str, Any] = cast(dict[str, Any], sample(form, self.clock.now, self.rng))
        fields = form.get("properties", {})
        data.update({name: value() if callable(value) else value
                     for name, value in self.choices.items() if name in fields})
        if task.bpmn_id in ("sign_purchaser", "sign_contractor"):
            side = "purchaser" if task.bpmn_id == "sign_purchaser" else "contractor"
            data.update({f"{side}_signatory": actor.display_name, f"{side}_agrees": True})
        if task.bpmn_id == "form_panel":
            data.update(self.panel(fields))
        return data

    def panel(self, fields):
        """The committee picks from the people the form offers (those who must stand aside are
        not offered): the panel members, then one representative."""
        offered = fields.get("panel_members", {}).get("items", {}).get("enum", [])
        panel = [m for m in offered if "_panel" in m]
        reps = [m for m in offered if "_rep" in m]
        members = panel[:3] + ([self.rng.choice(reps)] if reps else []) if len(panel) >= 3 else (panel + reps)[:4]
        if self.bad_panel:
            self.bad_panel = False
            members = members[:2]  # too few: the panel check sends the committee back
        return {"panel_members": members, "panel_member_categories": [
            {"username": m, "category": "expert" if "panel3" in m else "resident_representative"} for m in members]}

    def done(self, task):
        if task.bpmn_id != "report_progress":
            return
        self.reports += 1
        # A meeting is called during delivery, so only when delivery goes on after this report.
        if self.coordination and self.reports == 1 < self.plan.reports:
            self.coordination = False
            self.clock.advance(self.rng.uniform(1, 4))
            with unit_of_work(self.services.session_factory) as session:
                chair = get_user(session, pilot.members_of(session, "community_committee", self.community_id)[0])
                self.services.runtime.send_message(session, self.instance_id, "coordination_requested",
                                                   {"issue": "服务时间安排与居民意见分歧"}, chair)


def drive_plan(services, worker, clock, ids, rng, plan):
    """Start ``plan``'s project and drive it to its end (the workers alongside); returns its id."""
    lead = f"{plan.org}_lead" if plan.org != "yanpen_arts" else "arts_lead"
    with unit_of_work(services.session_factory) as session:
        # Many projects run the simulated clock past the years the pilot has budgets for.
        for year in (clock.now.year, clock.now.year + 1):
            for town_id in ids["towns"].values():
                if funds.find_budget(session, town_id, year) is None:
                    funds.set_budget(session, town_id, year, ids["budget_yuan"], actor="admin", note="演示数据")
        instance = services.runtime.start_instance(session, PROCESS_KEY, get_user(session, lead), {
            "title": plan.title, "catalog_item_id": ids["items"][plan.item],
            "organization_id": ids["orgs"][plan.org], "budget_total": plan.amount})
        instance_id, community_id = instance.id, instance.community_id
    people = PilotPeople(services, plan, clock, rng, community_id, instance_id)
    drive(services, instance_id, people, work=lambda: worker.run(until_idle=True), answer=None, max_steps=2000)
    with unit_of_work(services.session_factory, readonly=True) as session:
        if instance_status(session, instance_id) == "running":
            raise SansheError(f"Demo project {instance_id} waits for something the demo does not do.")
    return instance_id


def run_demo(settings, projects=5, if_empty=False, seed=2014, echo=print, progressbar=None, accounts="all"):
    """Load the pilot (unless it is there) and drive ``projects`` projects; returns their ids.

    ``accounts``: ``all`` lists every demo account with its password at the end, ``admin``
    only the administrator's sign-in and where to find the others."""
    clock = SimClock(START)
    services = build_services(settings, clock=clock)
    upgrade_schema(services.db)
    rng = random.Random(seed)
    try:
        with unit_of_work(services.session_factory) as session:
            if pilot.has_data(session):
                if if_empty:
                    echo("demo: the database already holds data; nothing to do")
                    if accounts == "admin":
                        _admin_only(echo)
                    return []
                raise SansheError("The database already holds data; run the demo on an empty database.")
            bpmn, forms = read_bundle([settings.processes_dir])
            deploy(session, services.runtime.spec_cache, bpmn, forms, "admin")
            budget_yuan = max(600_000, projects * 70_000)
            ids = pilot.load_pilot(session, budget_years=pilot.budget_years(utcnow().date(), START.year),
                                   budget_yuan=budget_yuan)
            ids["budget_yuan"] = budget_yuan
        queue = JobQueue(settings, services.runtime, clock=clock)
        worker = Worker(services.session_factory, queue, TOPICS, "demo-worker", max_jobs=10)
        plans = plans_for(projects, rng)
        done = []
        bar = progressbar(plans, label="driving projects through the seven steps") if progressbar else None
        with bar if bar is not None else nullcontext(plans) as items:
            for index, plan in enumerate(items):
                # Projects start a few days apart and overlap in time.
                clock.now = START + timedelta(days=index * rng.uniform(3, 9) + (index // len(PLANS)) * 30)
                done.append(drive_plan(services, worker, clock, ids, rng, plan))
        _summary(echo, plans, done, ids, worker, accounts)
        return done
    finally:
        services.db.dispose()


def _admin_only(echo):
    echo(f"Sign in as admin / {pilot.password_of('admin')}. The other demo accounts: README.md (Demo logins), "
         "or `python -m cli users list`.")


def _summary(echo, plans, done, ids, worker, accounts="all"):
    total = sum(p.amount for p in plans)
    social = sum(p.amount for p in plans if p.item in ("elderly_home_care", "women_children_family",
                                                       "left_behind_children", "elderly_companions", "disabled_rehab"))
    echo(f"demo: {len(done)} projects driven through the seven steps for {total:,} yuan "
         f"({social:,} yuan in social-work projects); jobs done by workers: {worker.counts['completed']} completed, "
         f"{worker.counts['bpmn_error']} BPMN errors")
    if accounts == "admin":
        _admin_only(echo)
        return
    echo("demo accounts (password = demo-<username>):")
    for username, display_name, roles in ids["accounts"]:
        echo(f"  {username:<24} {pilot.password_of(username):<30} {roles:<24} {display_name}")
