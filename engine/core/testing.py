"""Stand-ins for tests and queue benchmarks, as Flask's ``flask.testing`` is for Flask.

:class:`QueueOnlyRuntime` takes the runtime's place behind a :class:`~engine.core.jobs.JobQueue`
whose jobs belong to no process instance: it writes a job's completion on the job row and
moves nothing. Production code hands the queue the real :class:`~engine.core.runtime.Runtime`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.core.hooks import Hooks
from engine.core.models import Definition, Instance, Job, utcnow
from engine.core.states import JobState


class QueueOnlyRuntime:
    """The runtime's job operations on the job row alone (no instance moves on)."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, hooks: Hooks | None = None) -> None:
        self.clock = clock
        self.hooks = hooks or Hooks()

    def complete_job(self, session: Session, job: Job, result: dict[str, Any] | None, resource: str) -> Job:
        """Mark the job completed with ``result``."""
        job.state = JobState.COMPLETED
        job.result = result
        job.completed_at = self.clock()
        job.lock_expires_at = None
        return job

    def job_result_problem(self, session: Session, job: Job, result: dict[str, Any]) -> str | None:
        """Nothing to check results against: the rules' facts live with the real runtime."""
        return None

    def job_bpmn_error(self, session: Session, job: Job, code: str, message: str, variables: dict[str, Any] | None,
                       resource: str) -> bool:
        """Record the business error on the job as caught (there is no diagram to route it)."""
        if job.state == JobState.LOCKED:
            job.state = JobState.COMPLETED
        job.result = {"bpmn_error": code, "message": message, **(variables or {})}
        job.error_message = f"{code}: {message}" if message else code
        job.completed_at = self.clock()
        job.lock_expires_at = None
        return True


def bare_instance(session: Session, key: str = "bench") -> Instance:
    """A deployed definition without a diagram and one instance of it, for jobs that belong
    to no real process (queue benchmarks and tests)."""
    definition = Definition(key=key, version=1, content_hash="0" * 64, bpmn_file=f"{key}.bpmn",
                            bpmn_xml="<definitions/>", forms={}, deployed_by=key)
    session.add(definition)
    session.flush()
    instance = Instance(definition_id=definition.id, title=key)
    session.add(instance)
    session.flush()
    return instance
