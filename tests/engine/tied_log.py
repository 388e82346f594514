"""A log written the way the engine writes it, where most completions share a timestamp.

Each engine step is one :class:`~engine.core.eventlog.EventBatch` at one moment, folded into
the mining tables by the same listener the runtime hands it. A service task that follows a
person's task runs in the same step, so its completion has the same time as the person's;
ids are chosen so that sorting tied completions by name reverses them
(``confirm_catalog_item`` is done before ``check_eligibility``).

Per case: confirm -> check (same moment) -> approve, sometimes revise -> check -> approve
again, then survey -> write -> vote (ballots, then the tally in the ballots' last step) ->
sign. Some cases stop early (running), one is terminated; one running case has ballots of a
second round after its first tally.
"""
import random
from contextlib import ExitStack
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from engine.core.db import make_engine, make_session_factory, unit_of_work, upgrade_schema
from engine.core.eventlog import EventBatch
from engine.mining.fold import fold_events
from tests.conftest import pg_schema

T0 = datetime(2025, 3, 3, 8)
NOW = T0 + timedelta(days=400)
NAMES = {"confirm_catalog_item": "确认服务事项", "check_eligibility": "资格审查", "approve_qualification": "审批资格",
         "revise_screening": "修改筛选", "plan_survey": "需求调查", "write_application": "撰写申请书",
         "cast_ballot": "投票", "tally_votes": "计票并公布", "sign_agreement": "签订协议"}
SERVICE = {"check_eligibility", "tally_votes"}
STEPS = {"confirm_catalog_item": 1, "check_eligibility": 1, "approve_qualification": 1, "revise_screening": 1,
         "plan_survey": 2, "write_application": 2, "cast_ballot": 4, "tally_votes": 4, "sign_agreement": 5}
CASES = 40


class Case:
    """Writes one case step by step; ``open`` holds scheduled tasks by activity id."""

    def __init__(self, session, number, t):
        self.session, self.t = session, t
        self.instance = SimpleNamespace(id=number, town_id=1 + number % 2, community_id=10 + number % 3,
                                        organization_id=20 + number % 4)
        self.definition = SimpleNamespace(id=1 + number % 2, key="seven_step_project", version=1 + number % 2)
        self.open, self.counter = {}, 0

    def step(self, minutes=0.0):
        self.t += timedelta(minutes=minutes)
        return EventBatch(self.instance, self.definition, self.t, [fold_events])

    def schedule(self, batch, activity):
        self.counter += 1
        task = SimpleNamespace(id=f"{self.instance.id}-{self.counter}", bpmn_id=activity, name=NAMES[activity],
                               role="community_committee", step=STEPS[activity])
        self.open.setdefault(activity, []).append(task)
        batch.task("schedule", task, activity_type="serviceTask" if activity in SERVICE else "userTask")

    def complete(self, batch, activity, who=None, then=()):
        task = self.open[activity].pop(0)
        kind = "serviceTask" if activity in SERVICE else "userTask"
        batch.task("start", task, who or "system", activity_type=kind)
        batch.task("complete", task, who or "system", activity_type=kind)
        for following in then:
            self.schedule(batch, following)


def write_case(session, rng, number, running_after=None, terminate=False, second_round=False):
    case = Case(session, number, T0 + timedelta(hours=7 * number))
    b = case.step()
    b.add("start", "instance", f"项目{number}", "instance", resource="lead")
    case.schedule(b, "confirm_catalog_item")
    b.flush(session)
    steps = 0

    def stop():
        return running_after is not None and steps >= running_after

    # A person confirms; the eligibility check runs in the same step, at the same moment.
    b = case.step(rng.choice([30, 90, 600]))
    case.complete(b, "confirm_catalog_item", "committee", then=["check_eligibility"])
    case.complete(b, "check_eligibility", then=["approve_qualification"])
    b.flush(session)
    steps += 1
    for _round in range(rng.choice([0, 0, 1, 2])):
        b = case.step(rng.choice([60, 240]))
        case.complete(b, "approve_qualification", "town", then=["revise_screening"])
        b.flush(session)
        b = case.step(rng.choice([30, 120]))
        case.complete(b, "revise_screening", "committee", then=["check_eligibility"])
        case.complete(b, "check_eligibility", then=["approve_qualification"])
        b.flush(session)
    if terminate:
        b = case.step(15)
        b.task("cancel", case.open["approve_qualification"].pop(0), "admin")
        b.add("cancel", "instance", f"项目{number}", "instance", resource="admin")
        b.flush(session)
        return
    b = case.step(rng.choice([60, 240, 1440]))
    case.complete(b, "approve_qualification", "town", then=["plan_survey"])
    b.flush(session)
    steps += 1
    if stop():
        return
    b = case.step(rng.choice([1440, 2880]))
    case.complete(b, "plan_survey", "org", then=["write_application"])
    b.flush(session)
    b = case.step(rng.choice([2880, 4320]))
    case.complete(b, "write_application", "org", then=["cast_ballot"] * 3)
    b.flush(session)
    steps += 1
    if stop():
        return
    for voter in range(3):
        b = case.step(rng.choice([5, 20, 60]))
        last = voter == 2
        case.complete(b, "cast_ballot", f"rep{voter}", then=["tally_votes"] if last else ())
        if last:  # the tally runs in the last ballot's step
            case.complete(b, "tally_votes", then=["cast_ballot"] * 2 if second_round else ["sign_agreement"])
        b.flush(session)
    if second_round:
        b = case.step(30)
        case.complete(b, "cast_ballot", "rep0")
        b.flush(session)
        return
    steps += 1
    if stop():
        return
    b = case.step(rng.choice([1440, 4320]))
    case.complete(b, "sign_agreement", "town")
    b.add("complete", "instance", f"项目{number}", "instance", resource="town")
    b.flush(session)


def load_tied_log(url):
    engine = make_engine(url)
    upgrade_schema(engine)
    rng = random.Random(18)
    with unit_of_work(make_session_factory(engine)) as session:
        for number in range(1, CASES + 1):
            write_case(session, rng, number, running_after=rng.choice([1, 2, 3]) if number % 9 == 0 else None,
                       terminate=number == 5, second_round=number == 7)
    return engine


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def tied_db(request, tmp_path_factory):
    """A session factory over the tied log (read-only for the tests)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('tied') / 'log.db'}"
        else:
            url = stack.enter_context(pg_schema("sanshe_test_tied"))
        engine = load_tied_log(url)
        stack.callback(engine.dispose)
        yield make_session_factory(engine)
