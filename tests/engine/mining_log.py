"""A small event log with known durations, on a real SQLite file and on PostgreSQL.

Times are hours after Monday 2024-01-01 00:00 UTC.

* case 1 (version 1, community 1): write (wait 24, work 24), meeting (2, 2), revise (24, 24),
  meeting (1, 1), tally (0, 1); completed at 103 -> lead 103 h, one revision round.
* case 2 (version 2, community 2, started at 24): write (72, 48), meeting (1, 1), tally (0, 1),
  tally again (0, 2); completed at 149 -> lead 125 h, one re-vote.
* case 3 (version 1, community 1, started at 48): write scheduled, still waiting (running).
* case 4 (version 2, community 2): write scheduled at 0, instance terminated at 10.
"""
from contextlib import ExitStack
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from engine.mining.fold import rebuild
from engine.core.db import make_engine, make_session_factory, upgrade_schema
from engine.core.models import Event
from tests.conftest import pg_schema

T0 = datetime(2024, 1, 1)
HOUR = 3600.0
NOW = T0 + timedelta(hours=200)
NAMES = {"write_application": "Write application", "consultation_meeting": "Consultation meeting",
         "revise_application": "Revise application", "tally_votes": "Tally and announce"}
STEPS = {"write_application": 2, "consultation_meeting": 3, "revise_application": 3, "tally_votes": 4}
ROLES = {"write_application": "social_organization", "consultation_meeting": "community_committee",
         "revise_application": "social_organization", "tally_votes": "community_committee"}

# case: (version, community, start, end, end transition, [(task, activity, {transition: hour})])
CASES = {
    1: (1, 1, 0, 103, "complete", [
        ("t1a", "write_application", {"schedule": 0, "assign": 24, "start": 24, "complete": 48}),
        ("t1b", "consultation_meeting", {"schedule": 48, "start": 50, "complete": 52}),
        ("t1c", "revise_application", {"schedule": 52, "assign": 76, "start": 76, "complete": 100}),
        ("t1d", "consultation_meeting", {"schedule": 100, "start": 101, "complete": 102}),
        ("t1e", "tally_votes", {"schedule": 102, "start": 102, "complete": 103}),
    ]),
    2: (2, 2, 24, 149, "complete", [
        ("t2a", "write_application", {"schedule": 24, "assign": 96, "start": 96, "complete": 144}),
        ("t2b", "consultation_meeting", {"schedule": 144, "start": 145, "complete": 146}),
        ("t2c", "tally_votes", {"schedule": 146, "start": 146, "complete": 147}),
        ("t2d", "tally_votes", {"schedule": 147, "start": 147, "complete": 149}),
    ]),
    3: (1, 1, 48, None, None, [("t3a", "write_application", {"schedule": 48})]),
    4: (2, 2, 0, 10, "cancel", [("t4a", "write_application", {"schedule": 0, "cancel": 10})]),
}


def at(hours):
    return T0 + timedelta(hours=hours)


def event_rows():
    rows = []
    for case, (version, community, start, end, how, tasks) in CASES.items():
        base = {"instance_id": case, "definition_id": version, "definition_key": "seven_step_project",
                "definition_version": version, "community_id": community, "town_id": 100,
                "organization_id": 9 + community}
        rows.append({**base, "ts": at(start), "activity_id": "instance", "activity_name": f"Project {case}",
                     "activity_type": "instance", "transition": "start", "resource": "lead"})
        for task_id, activity, transitions in tasks:
            for transition, hour in transitions.items():
                rows.append({**base, "ts": at(hour), "task_id": task_id, "activity_id": activity,
                             "activity_name": NAMES[activity], "step": STEPS[activity], "role": ROLES[activity],
                             "activity_type": "serviceTask" if activity == "tally_votes" else "userTask",
                             "transition": transition, "resource": None if transition == "schedule" else "alice"})
        if end is not None:
            rows.append({**base, "ts": at(end), "activity_id": "instance", "activity_name": f"Project {case}",
                         "activity_type": "instance", "transition": how, "resource": "lead"})
    # One multi-row insert takes its columns from the first row: give every row every key.
    keys = {"task_id": None, "step": None, "role": None}
    return sorted(({**keys, **r} for r in rows), key=lambda r: r["ts"])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def mining_db(request, tmp_path_factory):
    """A session factory over the known log (read-only for the tests)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('mining') / 'log.db'}"
        else:
            url = stack.enter_context(pg_schema("sanshe_test_mining"))
        engine = load_known_log(url)
        stack.callback(engine.dispose)
        yield make_session_factory(engine)


def load_known_log(url):
    """An engine on ``url`` holding the known log, folded as a bulk load would be."""
    engine = make_engine(url)
    upgrade_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(Event), event_rows())
        rebuild(conn)  # rows written around the runtime: fold them as a bulk load would
    return engine
