"""A notification as a sentence in the reader's language, without Flask.

The words are the interface's (the catalog in ``webui/translations``), read through
``babel.support.Translations``: the notification centre hands in the request's language, the
e-mails each recipient's. The names of steps, roles and installments are kept here as
message ids (``N_`` marks them for extraction) and translated when a sentence is made; the
web app's label tables are built from them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from engine.core.models import Notification
from engine.core.notifications import NotificationKind as Kind

CATALOG = Path(__file__).resolve().parents[1] / "webui" / "translations"


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


ROLES = {
    "community_committee": N_("Community committee"),
    "town_government": N_("Town government"),
    "social_organization": N_("Social organization"),
    "resident_representative": N_("Resident representative"),
    "evaluation_panel": N_("Evaluation panel"),
    "supervisor": N_("Social-work supervisor"),
    "city_bureau": N_("City civil affairs bureau"),
    "administrator": N_("Administrator"),
}
STEPS = {
    1: N_("Catalog & eligibility"),
    2: N_("Needs survey & application"),
    3: N_("Consultation meeting"),
    4: N_("Representatives' vote"),
    5: N_("Purchase agreement"),
    6: N_("Delivery"),
    7: N_("Evaluation & acceptance"),
}
INSTALLMENTS = {"on_signing": N_("First installment (on signing)"),
                "on_acceptance": N_("Final installment (on acceptance)")}

_BILINGUAL = re.compile(r"^(?P<zh>.*?)\s*[(（](?P<en>[A-Za-z][^()（）]*)[)）]\s*$")


def task_title(name: str | None, english: bool) -> str:
    """'确认事项 (Confirm item)' as the one language's half; other names unchanged."""
    match = _BILINGUAL.match(name or "")
    if not match:
        return name or ""
    return match.group("en") if english else match.group("zh")


def money(value: Any, locale: str, currency: str = "CNY") -> str:
    """An amount in the locale's way of writing money ('' for none)."""
    if value in (None, ""):
        return ""
    try:
        return format_currency(value, currency, locale=locale)
    except (TypeError, ValueError, ArithmeticError):
        return str(value)


@dataclass(frozen=True)
class Language:
    """The catalog's translations for one locale (``zh_CN``, ``en``)."""
    translations: NullTranslations
    locale: str

    @property
    def english(self) -> bool:
        return self.locale.startswith("en")

    def gettext(self, message: str, **values: Any) -> str:
        """``message`` translated, with ``%(name)s`` places filled from ``values``."""
        text = self.translations.gettext(message)
        return text % values if values else text


@lru_cache(maxsize=8)
def language(locale: str | None) -> Language:
    """The language of a person's ``locale`` setting (Chinese when none)."""
    chosen = locale or "zh_CN"
    return Language(Translations.load(str(CATALOG), [chosen]), chosen)


def path(notice: Notification) -> str:
    """Where the notification leads in the web app: its task, else its project, else the list."""
    if notice.task_id:
        return f"/tasks/{notice.task_id}"
    if notice.instance_id:
        return f"/instances/{notice.instance_id}"
    return "/notifications"


def words(notice: Notification, names: Mapping[str, str], lang: Language) -> str:
    """The notification as a sentence in ``lang``; ``names``: display names by username."""
    _ = lang.gettext
    params: dict[str, Any] = notice.params or {}
    task = task_title(params.get("task", ""), lang.english)
    title = params.get("title", "")
    if notice.kind == Kind.TASK_READY:
        return _("A task for your role: “%(task)s”.", task=task)
    if notice.kind == Kind.TASK_ASSIGNED:
        return _("A task for you: “%(task)s”.", task=task)
    if notice.kind == Kind.TASK_HANDED:
        by = params.get("by", "")
        return _("%(name)s handed you the task “%(task)s”.", name=names.get(by, by), task=task)
    if notice.kind == Kind.DEADLINE_NEAR:
        return _("“%(task)s” is due soon.", task=task)
    if notice.kind == Kind.OVERDUE and params.get("escalated"):
        role = str(params.get("role", ""))
        return _("Overdue, for you to follow up: “%(task)s” (%(role)s).", task=task,
                 role=_(ROLES[role]) if role in ROLES else role)
    if notice.kind == Kind.OVERDUE:
        return _("“%(task)s” is overdue.", task=task)
    if notice.kind == Kind.STEP_MOVED:
        step = int(params.get("to") or 0)
        return _("“%(title)s” moved to step %(n)s: %(label)s.", title=title, n=step,
                 label=_(STEPS[step]) if step in STEPS else "")
    if notice.kind == Kind.VOTE_RESULT:
        said = params.get("announcement") or {}
        return said.get("en" if lang.english else "zh") or notice.message
    if notice.kind == Kind.PAYMENT_MADE:
        label = str(params.get("label") or params.get("installment"))
        return _("“%(title)s”: the %(label)s was paid, %(amount)s.", title=title,
                 label=_(INSTALLMENTS[label]) if label in INSTALLMENTS else label,
                 amount=money(int(params.get("amount_fen") or 0) / 100, lang.locale))
    return _(notice.message) if notice.message else notice.message
