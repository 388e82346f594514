"""Files uploaded with forms: stored in the database, or in a folder when one is configured.

A form field holds a reference to the stored file (see :func:`reference`), never its bytes.
Quotas bound what one task and one person may keep in open tasks; files a task no longer
refers to (replaced in a draft, left out at completion, or of a task that was cancelled)
are removed by :func:`prune` and :func:`prune_abandoned`.
"""
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from engine.core.hotcache import after_commit
from engine.core.models import Attachment, Task
from engine.errors import NotFoundError, Text, ValidationError

MAX_BYTES = 20 * 1024 * 1024
# All files of one task together (drafts and refused submissions included).
TASK_QUOTA_BYTES = 50 * 1024 * 1024
# All files one person keeps in tasks that are still open.
USER_QUOTA_BYTES = 100 * 1024 * 1024
_MB = 1024 * 1024


def _refuse(field: str, message: Text) -> None:
    raise ValidationError(message, errors={field: [message]})


def check_quota(session: Session, size: int, uploaded_by: str, task_id: str | None, field: str = "") -> None:
    """ValidationError when a file of ``size`` bytes would exceed the file, task or person quota."""
    if size > MAX_BYTES:
        _refuse(field, Text("The file is larger than %(size)s MB.", size=MAX_BYTES // _MB))
    if task_id is not None:
        used = session.scalar(select(func.coalesce(func.sum(Attachment.size), 0))
                              .where(Attachment.task_id == task_id)) or 0
        if used + size > TASK_QUOTA_BYTES:
            _refuse(field, Text("The files of this task would exceed %(size)s MB; remove some first.",
                                size=TASK_QUOTA_BYTES // _MB))
    open_files = (select(func.coalesce(func.sum(Attachment.size), 0))
                  .outerjoin(Task, Task.id == Attachment.task_id)
                  .where(Attachment.uploaded_by == uploaded_by,
                         or_(Attachment.task_id.is_(None), Task.state == "ready")))
    if (session.scalar(open_files) or 0) + size > USER_QUOTA_BYTES:
        _refuse(field, Text("Your files in open tasks would exceed %(size)s MB; finish or clear some drafts first.",
                            size=USER_QUOTA_BYTES // _MB))


def store(session: Session, content: bytes, filename: str, uploaded_by: str,
          content_type: str = "application/octet-stream", instance_id: int | None = None, task_id: str | None = None,
          field: str = "", folder: str = "") -> Attachment:
    """Save one file; in ``folder`` when given (named by its SHA-256), else in the table.

    Refused (ValidationError at ``field``) when it is too large or would exceed a quota.
    """
    check_quota(session, len(content), uploaded_by, task_id, field)
    filename = _clean_name(filename)
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment(
        instance_id=instance_id, task_id=task_id, field=field, filename=filename,
        content_type=content_type or "application/octet-stream", size=len(content), sha256=digest,
        uploaded_by=uploaded_by,
    )
    if folder:
        target = Path(folder) / digest[:2] / digest
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(content)
            tmp.replace(target)
        attachment.path = str(target)
    else:
        attachment.content = content
    session.add(attachment)
    session.flush()
    return attachment


def load(session: Session, attachment_id: int) -> tuple[Attachment, bytes]:
    """(attachment, bytes); NotFoundError when missing (or its file is gone)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFoundError("No such file.")
    if attachment.path:
        try:
            return attachment, Path(attachment.path).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError("The stored file is missing.") from exc
    return attachment, attachment.content or b""


def reference(attachment: Attachment, text: bool = False) -> str | dict[str, Any]:
    """What a form field stores for a file: a dict, or with ``text`` (a string field)
    ``attachment:ID:FILENAME``."""
    if text:
        return f"attachment:{attachment.id}:{attachment.filename}"
    return {"attachment_id": attachment.id, "filename": attachment.filename,
            "size": attachment.size, "sha256": attachment.sha256}


def kept_for_task(session: Session, value: Any, task_id: str) -> str | dict[str, Any] | None:
    """The reference to the file that ``value`` (a form field's file reference sent back)
    names, written from the stored file (in ``value``'s form), if that file was uploaded for
    this task; else None: a form cannot take in another task's files, nor rename them."""
    attachment_id: Any
    if isinstance(value, dict):
        attachment_id = cast(dict[str, Any], value).get("attachment_id")
    elif isinstance(value, str) and value.startswith("attachment:"):
        attachment_id = value.split(":", 2)[1]
    else:
        return None
    try:
        attachment = session.get(Attachment, int(attachment_id))
    except (TypeError, ValueError):
        return None
    if attachment is None or attachment.task_id != task_id:
        return None
    return reference(attachment, text=isinstance(value, str))


def referenced_ids(data: object) -> set[int]:
    """Ids of the files that form data (nested dicts and lists) refers to."""
    found: set[int] = set()
    stack: list[object] = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            mapping = cast(dict[str, object], value)
            number = mapping.get("attachment_id")
            if isinstance(number, int):
                found.add(number)
            stack.extend(mapping.values())
        elif isinstance(value, list):
            stack.extend(cast(list[object], value))
        elif isinstance(value, str) and value.startswith("attachment:"):
            number = value.split(":", 2)[1]
            if number.isdigit():
                found.add(int(number))
    return found


def prune(session: Session, task_id: str, keep: Iterable[int]) -> int:
    """Remove the files of ``task_id`` other than ``keep``; returns how many were removed."""
    rows = session.scalars(select(Attachment).where(Attachment.task_id == task_id,
                                                    Attachment.id.not_in(list(keep) or [-1]))).all()
    return _remove(session, rows)


def prune_abandoned(session: Session) -> int:
    """Remove the files of tasks that ended without using them (cancelled tasks)."""
    rows = session.scalars(select(Attachment).join(Task, Task.id == Attachment.task_id)
                           .where(Task.state == "cancelled")).all()
    return _remove(session, rows)


def _remove(session: Session, rows: Sequence[Attachment]) -> int:
    paths = {row.path for row in rows if row.path}
    ids = [row.id for row in rows]
    if ids:
        session.execute(delete(Attachment).where(Attachment.id.in_(ids)))
    for path in paths:
        # Files in the folder are shared by content: keep one another attachment still uses.
        if session.scalar(select(func.count()).select_from(Attachment).where(Attachment.path == path)) == 0:
            after_commit(session, lambda path=path: Path(path).unlink(missing_ok=True))
    return len(ids)


def _clean_name(filename: str | None) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip() or "file"
    return re.sub(r"[\x00-\x1f\"<>|]", "_", name)[:200]
