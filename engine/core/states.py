"""The states an instance, a task, a job and a timer go through (stored as their values)."""
from enum import StrEnum


class InstanceStatus(StrEnum):
    """A project: running until it reaches an end event or is stopped."""

    RUNNING = "running"
    COMPLETED = "completed"
    TERMINATED = "terminated"


class TaskState(StrEnum):
    """A human task: waiting in inboxes until someone completes it or the process moves past it."""

    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class JobState(StrEnum):
    """A service task's job: ready → locked by a worker → completed; a failure with no
    retries left makes it an incident; a job that needs something outside the process
    waits for it (and is ready again when it comes); the process moving past it cancels it."""

    READY = "ready"
    LOCKED = "locked"
    WAITING = "waiting"  # for something outside the process (a budget); no retry is used
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INCIDENT = "incident"


class TimerState(StrEnum):
    """A timer event: waiting until it fires, or cancelled when the process moves past it."""

    WAITING = "waiting"
    FIRED = "fired"
    CANCELLED = "cancelled"
