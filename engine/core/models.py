"""Core tables: organisation of people, definitions, instances, tasks, jobs, timers, events.

Domain tables for the rules of the method (ledger, agreements, ballots, ...) live in
``engine/method/models.py``; ``engine/all_models.py`` imports every table module.
"""
from datetime import date, datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary,
    String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.core.db import Base

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (the rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ROLES = (
    "community_committee",
    "town_government",
    "social_organization",
    "resident_representative",
    "evaluation_panel",
    "supervisor",
    "city_bureau",
    "administrator",
)
# Roles a lane may name; administrators manage the system and the city's civil affairs
# bureau oversees every town (reading only): neither does process work.
LANE_ROLES = tuple(role for role in ROLES if role not in ("administrator", "city_bureau"))

# Which scope a role acts in: a task in a lane is visible in the instance's scope of this type.
ROLE_SCOPE_TYPE = {
    "community_committee": "community",
    "resident_representative": "community",
    "evaluation_panel": "community",
    "town_government": "town",
    "supervisor": "town",
    "social_organization": "organization",
    # The city's civil affairs bureau (市民政局): every town of the city, to read.
    "city_bureau": "global",
    "administrator": "global",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ScopeCopy:
    """The instance's town, community and organization copied onto a row (tasks, events),
    so that inboxes and reports filter by place without joining the instance."""
    town_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    organization_id: Mapped[int | None] = mapped_column(Integer)


class Town(Base):
    __tablename__ = "towns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20), default="town")  # town | subdistrict


class Community(Base):
    __tablename__ = "communities"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"))
    kind: Mapped[str] = mapped_column(String(20), default="urban")  # rural | urban
    population: Mapped[int] = mapped_column(Integer, default=0)
    town: Mapped[Town] = relationship()


class RegistrationStatus(StrEnum):
    """Where a social organization stands with the civil affairs registration authority."""
    ACTIVE = "active"              # registered, in good standing (正常)
    UNREGISTERED = "unregistered"  # not (yet) registered (未登记)
    SUSPENDED = "suspended"        # activities suspended or listed as abnormal (停止活动)
    DEREGISTERED = "deregistered"  # registration cancelled at its own request (已注销)
    REVOKED = "revoked"            # registration revoked as a penalty (已撤销登记)


class Organization(Base):
    """A social organization on the register kept by the town and the administrator."""
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    # 统一社会信用代码 (GB 32100-2015), checked by engine.method.credit_codes; unique when set.
    credit_code: Mapped[str | None] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(20), default=RegistrationStatus.ACTIVE)
    service_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    max_concurrent_projects: Mapped[int] = mapped_column(Integer, default=3)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    __table_args__ = (Index("uq_organizations_credit_code", "credit_code", unique=True),)

    @property
    def active(self) -> bool:
        """Registered and in good standing: the only status that may take on projects."""
        return self.status == RegistrationStatus.ACTIVE


class CatalogItem(Base):
    """A public-service function the community can hand over (step 1's catalog), in one
    year's catalog (委托转移服务事项目录清单).

    Every edit raises ``revision``; the town's approval records the revision it approved,
    so an item changed after approval shows as changed until approved again. A retired item
    stays (projects refer to it) but no new project starts on it.
    """
    __tablename__ = "catalog_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    service_field: Mapped[str] = mapped_column(String(64))
    social_work: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    approved_revision: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(80), default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_by: Mapped[str | None] = mapped_column(String(80))
    __table_args__ = (UniqueConstraint("community_id", "code"),)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    # Where notifications the person chose to receive by e-mail are sent.
    email: Mapped[str | None] = mapped_column(String(254))
    # Part of every session cookie; raised at sign-out and password change, which ends every
    # session the person has open anywhere.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    grants: Mapped[list["RoleGrant"]] = relationship(back_populates="user", cascade="all, delete-orphan")
    affiliations: Mapped[list["Affiliation"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Affiliation.starts_on")


class AffiliationKind(StrEnum):
    """How a person belongs to an organization."""

    EMPLOYMENT = "employment"  # 任职: staff, paid or not
    MEMBERSHIP = "membership"  # 会员/志愿者: a member or volunteer


class Affiliation(Base):
    """A person's tie to a social organization from ``starts_on`` to ``ends_on`` (open when
    None). The one record of who belongs to which organization: recusal reads it."""
    __tablename__ = "affiliations"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # an AffiliationKind
    title: Mapped[str] = mapped_column(String(100), default="")  # 职务, e.g. 项目主管
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    user: Mapped["User"] = relationship(back_populates="affiliations")
    organization: Mapped[Organization] = relationship()


class SignInThrottle(Base):
    """Failed sign-ins counted per typed account name or per address (``key``), whether the
    account exists or not; ``blocked_until`` is the growing delay before the next try."""
    __tablename__ = "sign_in_throttles"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime)


class RoleGrant(Base):
    """A user holds ``role`` in one scope (a town, a community, an organization, or global)."""
    __tablename__ = "role_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    scope_type: Mapped[str] = mapped_column(String(20))  # town | community | organization | global
    scope_id: Mapped[int] = mapped_column(Integer, default=0)
    user: Mapped[User] = relationship(back_populates="grants")
    __table_args__ = (
        UniqueConstraint("user_id", "role", "scope_type", "scope_id"),
        Index("ix_role_grants_scope", "role", "scope_type", "scope_id"),
    )


class Definition(Base):
    """One deployed version of a process diagram with its forms."""
    __tablename__ = "definitions"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))  # the BPMN process id
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    bpmn_file: Mapped[str] = mapped_column(String(200))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # file name -> JSON Schema
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("key", "version"), Index("ix_definitions_key_hash", "key", "content_hash"))


class Instance(Base):
    """A running or finished project (one process instance)."""
    __tablename__ = "instances"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | completed | terminated
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    social_work: Mapped[bool] = mapped_column(Boolean, default=False)
    current_step: Mapped[int | None] = mapped_column(Integer)
    started_by: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(200))  # the end event reached, or why it stopped
    # SpiffWorkflow state without the spec (the spec comes from the definition's cache).
    state: Mapped[str] = mapped_column(Text, default="", deferred=True)  # loaded only when needed
    serializer_version: Mapped[str] = mapped_column(String(20), default="")
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[Definition] = relationship()
    __mapper_args__ = {"version_id_col": lock_version}


class StatePart(Base):
    """Finished tasks of an instance, stored once.

    A finished task never changes again, so an engine step stores the tasks that finished
    in it here, and the instance row keeps only the open part of the state. Loading reads
    the row and its parts; every so often the parts are folded into one.
    """
    __tablename__ = "instance_state_parts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(BigId, ForeignKey("instances.id"), index=True)
    body: Mapped[str] = mapped_column(Text)


class Task(ScopeCopy, Base):
    """A human task (user/manual task) as the inbox sees it; one row per activation."""
    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[str] = mapped_column(String(40))  # the lane
    step: Mapped[int | None] = mapped_column(Integer)
    scope_type: Mapped[str] = mapped_column(String(20))
    scope_id: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default="ready")  # ready | completed | cancelled
    assignee: Mapped[str | None] = mapped_column(String(80))  # fixed by the diagram (e.g. a voter)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    form_key: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_by: Mapped[str | None] = mapped_column(String(80))
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what was submitted
    __table_args__ = (
        Index("ix_tasks_inbox", "state", "role", "scope_type", "scope_id", "created_at"),
        # The due-date sort: dated tasks in due order, then undated ones newest first.
        Index("ix_tasks_inbox_due", "state", "role", "scope_type", "scope_id", "due_at", "created_at"),
        # Counts per step in the inbox (a covering range per grant and step) and the step
        # filter in created order.
        Index("ix_tasks_inbox_step", "state", "role", "scope_type", "scope_id", "step", "created_at", "assignee"),
        Index("ix_tasks_claimed", "state", "claimed_by"),
        Index("ix_tasks_assignee", "state", "assignee"),
    )


class Job(Base):
    """A service task handed to workers (external-task pattern)."""
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)  # SpiffWorkflow task id
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300), default="")
    topic: Mapped[str] = mapped_column(String(100))
    step: Mapped[int | None] = mapped_column(Integer)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # ready | locked | waiting | completed | incident | cancelled
    state: Mapped[str] = mapped_column(String(20), default="ready")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=3)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(120))
    lock_token: Mapped[str | None] = mapped_column(String(36))
    lock_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    run_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    # What a ``waiting`` job waits for (e.g. ``budget:3:2026``): the change that provides it
    # puts the job back in the queue.
    waiting_for: Mapped[str | None] = mapped_column(String(100), index=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (
        Index("ix_jobs_fetch", "state", "topic", "run_after"),
        # Workers only ever look at ready or locked jobs; on PostgreSQL index just those.
        Index("ix_jobs_available", "topic", "priority", "id",
              postgresql_where=text("state IN ('ready', 'locked')")),
    )


class WorkerCredential(Base):
    """A key a worker outside Sanshe sends to the job API: it may fetch and act on jobs of
    ``topics`` only. The secret is stored as an argon2 hash and shown once; ``key_id`` (the
    public part of the key) finds the row. Revoked credentials stay listed."""
    __tablename__ = "worker_credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class Timer(Base):
    """A timer event waiting in an instance; the scheduler fires it when due."""
    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | fired | cancelled | incident
    # Why firing it failed (state ``incident``), until someone retries it.
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_timers_due", "state", "due_at"),)


class Event(ScopeCopy, Base):
    """One lifecycle transition of a task or an instance: the event log that mining reads."""
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    instance_id: Mapped[int] = mapped_column(BigInteger)
    definition_id: Mapped[int | None] = mapped_column(Integer)
    definition_key: Mapped[str] = mapped_column(String(100), default="")
    definition_version: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(36))  # activity instance; None for instance events
    activity_id: Mapped[str] = mapped_column(String(100))  # BPMN element id, or "instance"
    activity_name: Mapped[str] = mapped_column(String(300), default="")
    activity_type: Mapped[str] = mapped_column(String(20), default="userTask")  # userTask | serviceTask | event | instance
    # schedule | assign | start | complete | cancel (XES standard lifecycle); instance: start | complete | cancel
    transition: Mapped[str] = mapped_column(String(20))
    resource: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(40))
    step: Mapped[int | None] = mapped_column(Integer)
    # Order within the case (1, 2, ...): the order the engine wrote the events in. Events of
    # one step share a timestamp, so only this tells which came first.
    seq: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        Index("ix_events_instance", "instance_id", "ts"),
        Index("ix_events_instance_seq", "instance_id", "seq"),
        Index("ix_events_activity", "activity_id", "transition"),
        Index("ix_events_ts", "ts"),
    )


class AuditEntry(Base):
    """Administrative actions: deployments, migrations, user changes, incident retries."""
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notification(Base):
    """An in-app notice to a user (e.g. a task now waits for you).

    ``kind`` and ``params`` say what happened; the page words it in the reader's language
    when it is shown. ``message`` is the English sentence of the same (a diagram's own text
    for kind ``message``).
    """
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # exactly-once per job
    task_id: Mapped[str | None] = mapped_column(String(36))
    instance_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40), default="message", server_default="message")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Exactly-once for notices that are not a job's effect (a deadline reminder per task and person).
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the delivery pass decided its e-mail, digest and webhook deliveries (None: not yet).
    routed_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    __table_args__ = (Index("ix_notifications_unread", "username", "read_at", "id"),
                      Index("ix_notifications_task_kind", "task_id", "kind"))


class NotificationPreference(Base):
    """How a person wants one kind of notification: in the app only, by e-mail, or in a daily digest."""
    __tablename__ = "notification_preferences"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))


class Delivery(Base):
    """The outbox: one notification to send by e-mail, in a digest or to the webhook.

    Written by the delivery pass after the notification's own transaction committed, and sent
    outside any request; a failed send is tried again later (``next_at``) until it gives up.
    """
    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("notifications.id"), index=True)
    username: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(20))  # email | digest | webhook
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (Index("ix_deliveries_due", "state", "next_at"),)


class CalendarDay(Base):
    """The administrator's correction of one day of the working-day calendar (a holiday or a
    working weekend the shipped data does not know, or one it has wrong)."""
    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ProjectFollow(Base):
    """A person who asked to be told when a project moves to another step."""
    __tablename__ = "project_follows"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    instance_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("instances.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Attachment(Base):
    """A file uploaded with a form; content in the database or a configured folder."""
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    field: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(120), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(500))
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


__all__ = [
    "Base", "ROLES", "LANE_ROLES", "ROLE_SCOPE_TYPE", "utcnow", "Town", "Community", "RegistrationStatus", "Organization",
    "CatalogItem", "User", "RoleGrant", "Definition", "Instance", "StatePart", "Task", "Job", "Timer",
    "Event", "AuditEntry", "Notification", "NotificationPreference", "Delivery", "CalendarDay", "ProjectFollow",
    "Attachment", "WorkerCredential",
]
