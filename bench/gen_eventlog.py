"""Generate a realistic event log of the seven-step process, written with bulk inserts.

    python -m bench.gen_eventlog --events 1000000 --database-url sqlite:///var/bench_mining.db

Each case walks the seven steps as processes/seven_step_project.bpmn does: eligibility and
qualification (sometimes revised), survey and application, a consultation meeting with
0-5 revision rounds, the representatives' vote by 7-15 residents (failed votes, re-votes,
absent voters), signing, delivery with progress reports, coordination meetings and
social-work supervision, then self-evaluation, panel scoring, rectification and payment.
Durations are drawn per role (town decisions wait longest). A few cases are rejected,
terminated, or still running. Instances (with towns, communities, organizations and
definition versions) are written too, so the log can be browsed in the web UI.
"""
import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select

from engine.mining.fold import rebuild
from engine.core.db import make_engine, make_session_factory, unit_of_work, upgrade_schema
from engine.core.models import Community, Definition, Instance, Organization, Town

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM = ROOT / "processes" / "seven_step_project.bpmn"
KEY = "seven_step_project"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0

# (id, name, type, lane/role, step): used when the diagram is missing; the diagram's own
# names, lanes and steps win when it is there.
ACTIVITIES = [
    ("confirm_catalog_item", "Confirm catalog item and screen organization", "userTask", "community_committee", 1),
    ("check_eligibility", "Eligibility check", "serviceTask", "community_committee", 1),
    ("approve_qualification", "Approve qualification", "userTask", "town_government", 1),
    ("revise_screening", "Revise screening", "userTask", "community_committee", 1),
    ("plan_survey", "Plan and run needs survey", "userTask", "social_organization", 2),
    ("write_application", "Write project application", "userTask", "social_organization", 2),
    ("supervise_before", "Supervisor review before delivery", "userTask", "supervisor", 2),
    ("consultation_meeting", "Consultation meeting", "userTask", "community_committee", 3),
    ("revise_application", "Revise application", "userTask", "social_organization", 3),
    ("draw_up_roster", "Vote roster", "serviceTask", "community_committee", 4),
    ("cast_ballot", "Cast ballot", "userTask", "resident_representative", 4),
    ("tally_votes", "Tally and announce", "serviceTask", "community_committee", 4),
    ("decide_failed_vote", "Decide after failed vote", "userTask", "community_committee", 4),
    ("approve_application", "Approve application", "userTask", "town_government", 4),
    ("purchase_decision", "Purchase decision", "userTask", "town_government", 5),
    ("earmark_funds", "Earmark funds", "serviceTask", "town_government", 5),
    ("draft_agreement", "Generate agreement", "serviceTask", "town_government", 5),
    ("sign_purchaser", "Sign as purchaser", "userTask", "town_government", 5),
    ("sign_contractor", "Sign as contractor", "userTask", "social_organization", 5),
    ("record_signatures", "Record signatures", "serviceTask", "town_government", 5),
    ("verify_agreement", "Verify agreement", "serviceTask", "town_government", 5),
    ("pay_first_installment", "First payment", "serviceTask", "town_government", 5),
    ("report_progress", "Report delivery progress", "userTask", "social_organization", 6),
    ("supervise_during", "Supervisor review during delivery", "userTask", "supervisor", 6),
    ("coordination_meeting", "Coordination meeting", "userTask", "community_committee", 6),
    ("self_evaluation", "Self-evaluation", "userTask", "social_organization", 7),
    ("write_case_study", "Write case study", "userTask", "social_organization", 7),
    ("supervise_after", "Supervisor review after delivery", "userTask", "supervisor", 7),
    ("form_panel", "Form evaluation panel", "userTask", "community_committee", 7),
    ("check_panel", "Check evaluation panel", "serviceTask", "community_committee", 7),
    ("score_project", "Score the project", "userTask", "evaluation_panel", 7),
    ("decide_evaluation", "Evaluation decision", "serviceTask", "community_committee", 7),
    ("rectify", "Rectify", "userTask", "social_organization", 7),
    ("pay_final_installment", "Final payment", "serviceTask", "town_government", 7),
]
# Median wait (days) before someone of a role picks a task up; town decisions are slowest.
ROLE_WAIT = {"community_committee": 1.5, "town_government": 4.0, "social_organization": 1.0,
             "resident_representative": 0.3, "evaluation_panel": 1.0, "supervisor": 3.0}
# Median working time (days) of the longer activities; others take hours.
WORK_DAYS = {"plan_survey": 18, "write_application": 9, "revise_application": 5, "consultation_meeting": 0.2,
             "report_progress": 2, "self_evaluation": 4, "write_case_study": 6, "rectify": 10,
             "supervise_before": 1, "supervise_during": 0.5, "supervise_after": 1, "coordination_meeting": 0.3}
COLUMNS = ("ts", "instance_id", "definition_id", "definition_key", "definition_version", "task_id", "activity_id",
           "activity_name", "activity_type", "transition", "resource", "role", "step", "town_id", "community_id",
           "organization_id", "seq")


def read_activities(path=DIAGRAM):
    """The activity table, with names, lanes and steps taken from the diagram when present."""
    table = {a[0]: list(a) for a in ACTIVITIES}
    if not Path(path).exists():
        return {k: tuple(v) for k, v in table.items()}
    tree = etree.parse(str(path))
    lanes = {ref.text: lane.get("name") for lane in tree.iter(f"{{{BPMN}}}lane")
             for ref in lane.iter(f"{{{BPMN}}}flowNodeRef")}
    for element in tree.iter():
        entry = table.get(element.get("id") or "")
        if entry is None or not isinstance(element.tag, str):
            continue
        entry[1] = element.get("name") or entry[1]
        entry[2] = etree.QName(element).localname
        entry[3] = lanes.get(element.get("id")) or entry[3]
        for prop in element.iter(f"{{{SPIFF}}}property"):
            if prop.get("name") == "step":
                entry[4] = int(prop.get("value") or 0)
    missing = sorted(set(table) - {e.get("id") for e in tree.iter() if isinstance(e.tag, str)})
    if missing:
        print(f"warning: not in {path.name}: {', '.join(missing)}", file=sys.stderr)
    return {k: tuple(v) for k, v in table.items()}


class CaseWriter:
    """Walks one case through the steps, appending event rows."""

    def __init__(self, rng, activities, rows, instance_id, ctx, start):
        self.rng, self.activities, self.rows = rng, activities, rows
        self.id, self.ctx, self.t = instance_id, ctx, start
        self.step = 1

    def lognormal_days(self, median_days, sigma=0.8):
        return median_days * DAY * self.rng.lognormvariate(0, sigma)

    def emit(self, ts, task_id, activity, transition, resource, role=None):
        aid, name, kind, lane, step = activity
        c = self.ctx
        self.rows.append((ts, self.id, c["definition_id"], KEY, c["version"], task_id, aid, name, kind, transition,
                          resource, role or lane, step, c["town_id"], c["community_id"], c["organization_id"]))

    def task(self, activity_id, resource=None, work=None, wait=None, after=None, parallel=False):
        """One activity instance: schedule, maybe assign/start, complete. Returns its completion time."""
        activity = self.activities[activity_id]
        aid, _name, kind, role, step = activity
        self.step = step
        rng = self.rng
        t0 = self.t if after is None else after
        task_id = "%032x" % rng.getrandbits(128)
        self.emit(t0, task_id, activity, "schedule", None)
        resource = resource or self.ctx["users"].get(role, "system")
        if kind == "serviceTask":
            started = t0 + rng.uniform(0.2, 30)
            done = started + rng.uniform(0.05, 5)
            self.emit(started, task_id, activity, "start", "worker-1")
            self.emit(done, task_id, activity, "complete", "worker-1")
        else:
            picked = t0 + (wait if wait is not None else self.lognormal_days(ROLE_WAIT.get(role, 1.0)))
            duration = work if work is not None else self.lognormal_days(WORK_DAYS.get(aid, 0.1), 0.6)
            done = picked + duration
            if rng.random() < 0.7:  # claimed from the inbox first, then completed later
                self.emit(picked, task_id, activity, "assign", resource)
                self.emit(picked, task_id, activity, "start", resource)
            else:  # completed without claiming: the runtime logs start and complete together
                picked = done
                self.emit(done, task_id, activity, "start", resource)
            self.emit(done, task_id, activity, "complete", resource)
        if not parallel:
            self.t = done
        return done

    def vote(self, voters):
        self.task("draw_up_roster")
        opened = self.t
        ends = []
        for number in range(voters):
            if self.rng.random() < 0.06:  # absent: the ballot is cancelled at the deadline
                activity = self.activities["cast_ballot"]
                task_id = "%032x" % self.rng.getrandbits(128)
                self.emit(opened, task_id, activity, "schedule", None)
                self.emit(opened + 2 * DAY, task_id, activity, "cancel", "scheduler")
                ends.append(opened + 2 * DAY)
            else:
                ends.append(self.task("cast_ballot", f"resident-{self.ctx['community_id']}-{number}",
                                      work=self.rng.uniform(30, 600), wait=self.rng.uniform(600, 1.5 * DAY),
                                      after=opened, parallel=True))
        self.t = max(ends)
        self.task("tally_votes")
        return self.rng.random() > 0.14  # passed?


def generate_case(writer, rng, social_work, end_at=None):
    """Walk one case; return (status, step reached). Stops early at ``end_at`` (running cases)."""
    w = writer

    def stop():
        return end_at is not None and w.t > end_at

    w.task("confirm_catalog_item")
    w.task("check_eligibility")
    if rng.random() < 0.02:
        return "completed", 1  # not eligible
    w.task("approve_qualification")
    while rng.random() < 0.08:
        w.task("revise_screening")
        w.task("check_eligibility")
        w.task("approve_qualification")
    if stop():
        return "running", 1
    w.task("plan_survey")
    w.task("write_application")
    if social_work:
        w.task("supervise_before")
    w.task("consultation_meeting", wait=w.lognormal_days(7, 0.4))
    for _ in range(rng.choices(range(6), weights=(25, 35, 20, 10, 6, 4))[0]):
        w.task("revise_application")
        w.task("consultation_meeting", wait=w.lognormal_days(7, 0.4))
        if stop():
            return "running", 3
    voters = rng.randint(7, 15)
    for _attempt in range(4):
        if w.vote(voters):
            break
        w.task("decide_failed_vote")
        if rng.random() < 0.25:
            return "completed", 4  # rejected
    else:
        return "completed", 4
    w.task("approve_application")
    if rng.random() < 0.03:
        return "completed", 4  # not approved
    if stop():
        return "running", 4
    w.task("purchase_decision")
    for activity in ("earmark_funds", "draft_agreement"):
        w.task(activity)
    signed = [w.task("sign_purchaser", parallel=True, after=w.t), w.task("sign_contractor", parallel=True, after=w.t)]
    w.t = max(signed)
    w.task("record_signatures")
    w.task("verify_agreement")
    w.task("pay_first_installment")
    if rng.random() < 0.015:
        return "cancelled", 5
    for report in range(rng.randint(2, 6)):
        w.t += w.lognormal_days(25, 0.3)
        w.task("report_progress")
        if social_work:
            w.task("supervise_during")
        if rng.random() < 0.07:
            w.task("coordination_meeting", wait=w.lognormal_days(3, 0.5))
        if stop():
            return "running", 6
    w.task("self_evaluation")
    if social_work:
        w.task("write_case_study")
        w.task("supervise_after")
    w.task("form_panel")
    w.task("check_panel")
    scored = w.t
    ends = [w.task("score_project", f"panel-{w.ctx['community_id']}-{n}", after=scored, parallel=True)
            for n in range(rng.randint(5, 7))]
    w.t = max(ends)
    w.task("decide_evaluation")
    if rng.random() < 0.1:
        w.task("rectify")
        w.task("decide_evaluation")
    w.task("pay_final_installment")
    return "completed", 7


def ensure_reference_data(session, versions):
    """Towns, communities, organizations and definition versions the generated cases use."""
    towns = [("bench-liushi", "柳市镇", "Liushi", "town"), ("bench-yanpen", "盐盆街道", "Yanpen", "subdistrict"),
             ("bench-hongqiao", "虹桥镇", "Hongqiao", "town")]
    town_ids = []
    for code, name, name_en, kind in towns:
        town = session.scalar(select(Town).where(Town.code == code)) or Town(code=code, name=name, name_en=name_en, kind=kind)
        session.add(town)
        session.flush()
        town_ids.append(town.id)
    communities = []
    for i, (name, name_en) in enumerate([("象东社区", "Xiangdong"), ("盐城社区", "Yancheng"), ("长虹社区", "Changhong"),
                                         ("东风社区", "Dongfeng"), ("新湖社区", "Xinhu"), ("港口社区", "Gangkou")]):
        code = f"bench-c{i}"
        community = session.scalar(select(Community).where(Community.code == code)) or Community(
            code=code, name=name, name_en=name_en, town_id=town_ids[i % len(town_ids)])
        session.add(community)
        session.flush()
        communities.append((community.id, community.town_id))
    organizations = []
    for i in range(10):
        code = f"bench-o{i}"
        org = session.scalar(select(Organization).where(Organization.code == code)) or Organization(
            code=code, name=f"社会组织{i + 1}", name_en=f"Organization {i + 1}", town_id=town_ids[i % len(town_ids)])
        session.add(org)
        session.flush()
        organizations.append(org.id)
    xml = DIAGRAM.read_text(encoding="utf-8") if DIAGRAM.exists() else "<definitions/>"
    definitions = []
    for version in range(1, versions + 1):
        definition = session.scalar(select(Definition).where(Definition.key == KEY, Definition.version == version))
        if definition is None:
            definition = Definition(key=KEY, version=version, name="Seven-step project", content_hash=f"bench-{version}",
                                    bpmn_file=DIAGRAM.name, bpmn_xml=xml, forms={}, deployed_by="bench")
            session.add(definition)
            session.flush()
        definitions.append((definition.id, version))
    return communities, organizations, definitions


def _insert_rows(session, dialect, table, columns, rows):
    if not rows:
        return
    raw = session.connection().connection
    cursor = raw.cursor()
    if dialect == "postgresql":
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    cursor.close()


def generate(session, events=1_000_000, seed=7, versions=3, start=datetime(2022, 1, 1), now=datetime(2025, 6, 30)):
    """Write about ``events`` events (whole cases) and their instances; returns (cases, events)."""
    rng = random.Random(seed)
    activities = read_activities()
    dialect = session.get_bind().dialect.name
    communities, organizations, definitions = ensure_reference_data(session, versions)
    first_id = (session.scalar(select(func.max(Instance.id))) or 0) + 1
    epoch = datetime(1970, 1, 1)
    span = (now - start).total_seconds()
    t_start, t_now = (start - epoch).total_seconds(), (now - epoch).total_seconds()
    as_ts = (lambda s: epoch + timedelta(seconds=round(s, 3))) if dialect == "postgresql" else \
        (lambda s: (epoch + timedelta(seconds=round(s, 3))).isoformat(" ", "microseconds"))
    rows, instances, total, case_no = [], [], 0, 0
    while total < events:
        instance_id = first_id + case_no
        community_id, town_id = rng.choice(communities)
        # Later versions are deployed later: newer cases run on newer diagrams.
        began = t_start + span * (rng.random() ** 0.8)
        definition_id, version = definitions[min(len(definitions) - 1, int((began - t_start) / span * len(definitions)))]
        ctx = {"definition_id": definition_id, "version": version, "town_id": town_id, "community_id": community_id,
               "organization_id": rng.choice(organizations),
               "users": {role: f"{role[:5]}-{community_id}-{rng.randint(1, 3)}" for role in ROLE_WAIT}}
        social_work = rng.random() < 0.4
        before = len(rows)
        writer = CaseWriter(rng, activities, rows, instance_id, ctx, began)
        title = f"Project {instance_id}"
        rows.append(None)  # the instance start, filled in below (keeps the case's rows together)
        status, step = generate_case(writer, rng, social_work, end_at=t_now)
        if writer.t > t_now:
            status = "running"
            rows[before + 1:] = [r for r in rows[before + 1:] if r[0] <= t_now]
        ended = writer.t if status != "running" else None
        base = (definition_id, KEY, version, None, "instance", title, "instance")
        rows[before] = (began, instance_id, *base, "start", ctx["users"]["social_organization"], None, None, town_id,
                        community_id, ctx["organization_id"])
        if status == "cancelled":
            rows.append((ended, instance_id, *base, "cancel", "admin", None, None, town_id, community_id,
                         ctx["organization_id"]))
        elif ended is not None:
            rows.append((ended, instance_id, *base, "complete", ctx["users"]["town_government"], None, None, town_id,
                         community_id, ctx["organization_id"]))
        # Number the case's events as the engine would have written them: in time order (the
        # sort is stable, so rows of one moment keep the order they happened in).
        rows[before:] = [(*r, n) for n, r in enumerate(sorted(rows[before:], key=lambda r: r[0]), start=1)]
        instances.append((instance_id, definition_id, title, status, town_id, community_id, ctx["organization_id"],
                          social_work, step, ctx["users"]["social_organization"], as_ts(began),
                          as_ts(ended) if ended else None, "", "", 1))
        case_no += 1
        if len(rows) >= 50_000:
            total += _flush(session, dialect, rows, instances, as_ts)
    total += _flush(session, dialect, rows, instances, as_ts)
    rebuild(session)  # bulk-loaded events: fold them into the mining tables in one pass
    return case_no, total


def _flush(session, dialect, rows, instances, as_ts):
    _insert_rows(session, dialect, "instances",
                 ("id", "definition_id", "title", "status", "town_id", "community_id", "organization_id", "social_work",
                  "current_step", "started_by", "started_at", "ended_at", "state", "serializer_version", "lock_version"),
                 instances)
    events = [(as_ts(r[0]), *r[1:]) for r in rows]
    _insert_rows(session, dialect, "events", COLUMNS, events)
    count = len(rows)
    rows.clear()
    instances.clear()
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench_mining.db'}")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url)
    upgrade_schema(engine)
    began = time.perf_counter()
    with unit_of_work(make_session_factory(engine)) as session:
        cases, events = generate(session, args.events, args.seed)
    print(f"{events} events in {cases} cases written in {time.perf_counter() - began:.1f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
