"""What the people who operate Sanshe watch: readiness and the numbers behind the metrics."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.core.db import migrations_current
from engine.core.heartbeats import ProcessKind, last_beat, live
from engine.core.models import Job, Timer


@dataclass
class Readiness:
    """Each check by name: True when it passes; ``details`` says why one does not."""
    checks: dict[str, bool] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


def readiness(session: Session, now: datetime, scheduler_max_age: timedelta) -> Readiness:
    """Database reachable, schema at the newest migration, a scheduler (on any host) beat
    within ``scheduler_max_age``. The caller catches a database that does not answer."""
    result = Readiness()
    session.execute(text("SELECT 1"))
    result.checks["database"] = True
    result.checks["migrations"] = migrations_current(session)
    if not result.checks["migrations"]:
        result.details["migrations"] = "the schema is behind the code: run `sanshe init`"
    beat = last_beat(session, ProcessKind.SCHEDULER)
    result.checks["scheduler"] = beat is not None and now - beat <= scheduler_max_age
    if not result.checks["scheduler"]:
        result.details["scheduler"] = ("no scheduler has ever run" if beat is None
                                       else f"the scheduler last beat at {beat.isoformat(timespec='seconds')} UTC")
    return result


@dataclass
class Snapshot:
    """Numbers of the whole installation (all hosts) at one moment."""
    jobs: dict[tuple[str, str], int]  # (state, topic) -> count, finished jobs left out
    queue_lag_seconds: float  # how long the oldest job due has waited for a worker
    job_incidents: int
    timer_incidents: int
    timers_due: int
    users_signed_in: int
    processes: dict[str, int]  # kind -> live processes


OPEN_JOB_STATES = ("ready", "locked", "waiting", "incident")


def snapshot(session: Session, now: datetime) -> Snapshot:
    """A few indexed aggregate queries; cheap enough for a scrape every 15 s."""
    jobs = {(state, topic): count for state, topic, count in session.execute(
        select(Job.state, Job.topic, func.count()).where(Job.state.in_(OPEN_JOB_STATES))
        .group_by(Job.state, Job.topic))}
    oldest = session.scalar(select(func.min(Job.run_after)).where(Job.state == "ready", Job.run_after <= now))
    timers: dict[str, int] = dict(session.execute(select(Timer.state, func.count()).where(
        Timer.state.in_(("waiting", "incident")), (Timer.state == "incident") | (Timer.due_at <= now))
        .group_by(Timer.state)).all())
    processes: dict[str, int] = {}
    users: set[int] = set()
    for row in live(session, now):
        processes[row.kind] = processes.get(row.kind, 0) + 1
        if row.kind == ProcessKind.WEB:
            users.update(int(u) for u in (row.detail or {}).get("users", []))
    return Snapshot(jobs=jobs, queue_lag_seconds=(now - oldest).total_seconds() if oldest else 0.0,
                    job_incidents=sum(c for (state, _), c in jobs.items() if state == "incident"),
                    timer_incidents=timers.get("incident", 0), timers_due=timers.get("waiting", 0),
                    users_signed_in=len(users), processes=processes)
