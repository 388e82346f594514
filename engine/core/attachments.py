"""Files uploaded with forms: stored in the database, or in a folder when one is configured.

A form field holds a reference to the stored file (see :func:`reference`), never its bytes.
"""
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from engine.errors import NotFoundError, Text, ValidationError
from engine.core.models import Attachment

MAX_BYTES = 20 * 1024 * 1024


def store(session, content, filename, uploaded_by, content_type="application/octet-stream",
          instance_id=None, task_id=None, field="", folder=""):
    """Save one file; in ``folder`` when given (named by its SHA-256), else in the table."""
    if len(content) > MAX_BYTES:
        message = Text("The file is larger than %(size)s MB.", size=MAX_BYTES // (1024 * 1024))
        raise ValidationError(message, errors={field: [message]})
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


def load(session, attachment_id):
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


def reference(attachment, text=False):
    """What a form field stores for a file: a dict, or with ``text`` (a string field)
    ``attachment:ID:FILENAME``."""
    if text:
        return f"attachment:{attachment.id}:{attachment.filename}"
    return {"attachment_id": attachment.id, "filename": attachment.filename,
            "size": attachment.size, "sha256": attachment.sha256}


def kept_for_task(session, value, task_id):
    """The reference to the file that ``value`` (a form field's file reference sent back)
    names, written from the stored file (in ``value``'s form), if that file was uploaded for
    this task; else None: a form cannot take in another task's files, nor rename them."""
    attachment_id: Any
    if isinstance(value, dict):
        attachment_id = value.get("attachment_id")
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


def _clean_name(filename):
    name = os.path.basename((filename or "").replace("\\", "/")).strip() or "file"
    return re.sub(r"[\x00-\x1f\"<>|]", "_", name)[:200]
