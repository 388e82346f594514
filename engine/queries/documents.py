"""Minutes and reports made from the task data (steps 3, 6 and 7) and the payment notices.

A consultation meeting's form becomes its minutes (恳谈会纪要, one per round), a coordination
meeting's its minutes (协调会纪要), each supervision its record (督导记录), the self-evaluation
its report and the case study itself; the panel's written evaluation report (评议报告) gathers
the panel, its scores (without the scorers' names) and the acceptance decision; each
installment paid has its payment notice (拨付通知).
"""
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.models import Task
from engine.errors import NotFoundError, Text
from engine.method.models import Agreement, Decision, Payment

# BPMN id of the task -> the document its form becomes
TASK_DOCUMENTS = {
    "consultation_meeting": "consultation_minutes",
    "coordination_meeting": "coordination_minutes",
    "supervise_before": "supervision_before",
    "supervise_during": "supervision_during",
    "supervise_after": "supervision_after",
    "self_evaluation": "self_evaluation_report",
    "write_case_study": "case_study",
}
PANEL_TASK, SCORE_TASK = "form_panel", "score_project"


@dataclass(frozen=True)
class TaskDocument:
    kind: str
    number: int  # the round (1 for the first consultation meeting, ...)
    task: Task


def task_documents(session: Session, instance_id: int) -> list[TaskDocument]:
    """The minutes, records and reports of the project, in the order they were written."""
    tasks = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "completed",
                                               Task.bpmn_id.in_(TASK_DOCUMENTS))
                            .order_by(Task.completed_at, Task.id)).all()
    counts: dict[str, int] = {}
    result = []
    for task in tasks:
        kind = TASK_DOCUMENTS[task.bpmn_id]
        counts[kind] = counts.get(kind, 0) + 1
        result.append(TaskDocument(kind, counts[kind], task))
    return result


def task_document(session: Session, instance_id: int, task_id: str) -> TaskDocument:
    found = next((d for d in task_documents(session, instance_id) if d.task.id == task_id), None)
    if found is None:
        raise NotFoundError(Text("Project %(id)s has no such document.", id=instance_id))
    return found


@dataclass(frozen=True)
class EvaluationReport:
    panel: Task | None  # the committee's form setting up the panel (members, method)
    scores: list[tuple[object, str]]  # (score, comments) in the order given, without names
    accepted: bool
    average: str
    pass_score: str
    count: int
    decided_at: datetime


def evaluation_report(session: Session, instance_id: int) -> EvaluationReport:
    """The panel's written report: NotFoundError until the acceptance is decided."""
    decision = session.scalar(select(Decision).where(Decision.instance_id == instance_id,
                                                     Decision.kind == "acceptance").order_by(Decision.id.desc()))
    if decision is None:
        raise NotFoundError(Text("Project %(id)s has not been evaluated yet.", id=instance_id))
    tasks = session.scalars(select(Task).where(Task.instance_id == instance_id, Task.state == "completed",
                                               Task.bpmn_id.in_((PANEL_TASK, SCORE_TASK)),
                                               Task.completed_at <= decision.created_at)
                            .order_by(Task.completed_at, Task.id)).all()
    panels = [t for t in tasks if t.bpmn_id == PANEL_TASK]
    panel = panels[-1] if panels else None
    scored = [t for t in tasks if t.bpmn_id == SCORE_TASK and (panel is None or cast(datetime, t.completed_at) >= cast(datetime, panel.completed_at))]
    details = decision.details or {}
    return EvaluationReport(
        panel=panel, scores=[((t.data or {}).get("panel_score"), str((t.data or {}).get("panel_comments") or ""))
                             for t in scored],
        accepted=bool(details.get("accepted")), average=str(details.get("average", "")),
        pass_score=str(details.get("pass_score", "")), count=int(details.get("count") or 0),
        decided_at=decision.created_at)


@dataclass(frozen=True)
class PaymentNotice:
    installment: int
    label: str
    amount_fen: int
    paid_at: datetime
    agreement_number: str
    purchaser: str
    contractor: str
    total_fen: int
    paid_so_far_fen: int  # including this one


def payment_notices(session: Session, instance_id: int) -> list[PaymentNotice]:
    """One notice per installment paid, the first one first."""
    payments = session.scalars(select(Payment).where(Payment.instance_id == instance_id)
                               .order_by(Payment.paid_at, Payment.installment)).all()
    notices, so_far = [], 0
    for payment in payments:
        agreement = session.get(Agreement, payment.agreement_id)
        content = agreement.content if agreement is not None else {}
        so_far += payment.amount_fen
        notices.append(PaymentNotice(
            installment=payment.installment, label=payment.label, amount_fen=payment.amount_fen,
            paid_at=payment.paid_at, agreement_number=agreement.number if agreement is not None else "",
            purchaser=(content.get("purchaser") or {}).get("name", ""),
            contractor=(content.get("contractor") or {}).get("name", ""),
            total_fen=int(content.get("amount_fen") or 0), paid_so_far_fen=so_far))
    return notices


def payment_notice(session: Session, instance_id: int, installment: int) -> PaymentNotice:
    found = next((n for n in payment_notices(session, instance_id) if n.installment == installment), None)
    if found is None:
        raise NotFoundError(Text("Installment %(n)s of project %(id)s has not been paid.", n=installment,
                                 id=instance_id))
    return found
