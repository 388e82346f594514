"""Chinese and English: the locale of a request, and dates, money and durations formatted in it.

The language comes from the switch (kept in the session) or else the browser's
Accept-Language; Chinese is the default. Form schemas carry their own Chinese ``title`` and
an English ``x-title-en``.

Messages are written in English in the code and translated in webui/translations/zh (the
catalog is named ``zh`` because Babel spells zh_CN as zh_Hans_CN and gettext falls back to
``zh``). After changing texts::

    pybabel extract -F webui/babel.cfg -k lazy_gettext --no-location --sort-output -o webui/translations/messages.pot .
    pybabel update -i webui/translations/messages.pot -d webui/translations -l zh
    pybabel compile -d webui/translations -l zh      # the compiled .mo is committed
"""
from datetime import datetime, timedelta

from babel.numbers import format_decimal
from flask import request, session
from flask_babel import (Babel, format_date, format_datetime, format_timedelta, get_locale, get_translations, gettext,
                         lazy_gettext)

from outbox import wording

LANGUAGES = {"zh_CN": "中文", "en": "English"}
babel = Babel()

# The names of roles, steps and installments are the outbox's message ids (e-mails use them too).
ROLE_LABELS = {key: lazy_gettext(message) for key, message in wording.ROLES.items()}
STEP_LABELS = {key: lazy_gettext(message) for key, message in wording.STEPS.items()}
INSTALLMENT_LABELS = {key: lazy_gettext(message) for key, message in wording.INSTALLMENTS.items()}

STATUS_LABELS = {
    "running": lazy_gettext("Running"), "completed": lazy_gettext("Completed"),
    "terminated": lazy_gettext("Terminated"), "ready": lazy_gettext("Open"), "cancelled": lazy_gettext("Cancelled"),
}
# Service-task topics, as the worker-keys page names them.
TOPIC_LABELS = {
    "eligibility_check": lazy_gettext("Eligibility screening"), "vote_roster": lazy_gettext("Vote roster"),
    "vote_tally": lazy_gettext("Vote tally"), "funds_earmark": lazy_gettext("Earmarking funds"),
    "funds_release": lazy_gettext("Releasing funds"), "agreement_draft": lazy_gettext("Drafting the agreement"),
    "agreement_sign": lazy_gettext("Recording signatures"), "agreement_verify": lazy_gettext("Verifying the agreement"),
    "panel_check": lazy_gettext("Evaluation panel check"), "acceptance_decision": lazy_gettext("Acceptance decision"),
    "payment": lazy_gettext("Payment"), "notify": lazy_gettext("Notifications"),
}
TRANSITION_LABELS = {
    "schedule": lazy_gettext("ready"), "assign": lazy_gettext("claimed"), "start": lazy_gettext("started"),
    "complete": lazy_gettext("completed"), "cancel": lazy_gettext("cancelled"), "reassign": lazy_gettext("handed over"),
    "withdraw": lazy_gettext("released"), "error": lazy_gettext("error"),
}


FIELD_LABELS = {
    "elderly": lazy_gettext("Elderly"), "youth": lazy_gettext("Children and youth"),
    "women": lazy_gettext("Women and families"), "vulnerable": lazy_gettext("People in hardship and with disabilities"),
    "mediation": lazy_gettext("Dispute mediation"), "culture": lazy_gettext("Community culture"),
    "other": lazy_gettext("Other community services"),
}
ITEM_STATE_LABELS = {
    "approved": lazy_gettext("Approved"), "changed": lazy_gettext("Changed since approval"),
    "pending": lazy_gettext("Awaiting approval"), "retired": lazy_gettext("Retired"),
}
REGISTRATION_LABELS = {
    "active": lazy_gettext("Registered, in good standing"), "unregistered": lazy_gettext("Not registered"),
    "suspended": lazy_gettext("Activities suspended"), "deregistered": lazy_gettext("Deregistered"),
    "revoked": lazy_gettext("Registration revoked"),
}


def translated(message):
    """An engine message in the user's language.

    A :class:`engine.errors.Text` has its template translated and its values put back in
    (a ``role`` value shown by the role's name, a ``state`` or ``status`` value by its
    label in Chinese); any other message is
    looked up as it is and shown unchanged when the catalog does not have it.
    """
    if not message:
        return message
    template = getattr(message, "template", None)
    if template is None:
        return gettext(message)
    values = dict(message.values)
    if values.get("role") in ROLE_LABELS:  # a role by its name, not its key
        values["role"] = ROLE_LABELS[values["role"]]
    if not is_english():  # a state word inside a Chinese sentence is shown by its label
        for name in ("state", "status"):
            if values.get(name) in STATUS_LABELS:
                values[name] = STATUS_LABELS[values[name]]
    return gettext(template, **values) if values else gettext(template)


def select_locale():
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["zh_CN", "zh", "zh-CN", "en"])
    if best and best.lower().startswith("en"):
        return "en"
    return "zh_CN"


def is_english():
    return str(get_locale()).startswith("en")


def localized(schema, key="title"):
    """A schema's ``title`` / ``description`` in the current language."""
    if not isinstance(schema, dict):
        return ""
    if is_english():
        return schema.get(f"x-{key}-en") or schema.get(key) or ""
    return schema.get(key) or schema.get(f"x-{key}-en") or ""


def task_title(name):
    """'确认事项 (Confirm item)' as the current language's half; other names unchanged."""
    return wording.task_title(name, is_english())


def money(value, currency="CNY"):
    return wording.money(value, str(get_locale()), currency)


def language():
    """The request's language, for words made outside Flask (:mod:`outbox.wording`)."""
    return wording.Language(get_translations(), str(get_locale()))


def number(value):
    if value in (None, ""):
        return ""
    return format_decimal(value, locale=str(get_locale()))


def duration(value):
    """A timedelta or seconds as '3 days' / '3天'."""
    if value is None:
        return ""
    if not isinstance(value, timedelta):
        value = timedelta(seconds=float(value))
    if value < timedelta(minutes=1):
        return gettext("under a minute")
    return format_timedelta(value, threshold=1.1)


def init_app(app):
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        # A moment kept as ISO 8601 text (a trial run's saved state, say) reads as one kept as a datetime.
        datetime=lambda v, fmt="medium": format_datetime(datetime.fromisoformat(v) if isinstance(v, str) else v, fmt)
        if v else "",
        date=lambda v, fmt="medium": format_date(v, fmt) if v else "",
        money=money, number=number, duration=duration, localized=localized, task_title=task_title,
        translated=translated,
    )
    from . import presenters  # it formats with this module's helpers
    app.jinja_env.globals.update(person=presenters.person, reason_words=presenters.reason,
                                 role_label=presenters.role_label)

    @app.context_processor
    def _globals():
        return {"LANGUAGES": LANGUAGES, "current_locale": "en" if is_english() else "zh_CN", "is_english": is_english(),
                "ROLE_LABELS": ROLE_LABELS, "STEP_LABELS": STEP_LABELS, "STATUS_LABELS": STATUS_LABELS,
                "TRANSITION_LABELS": TRANSITION_LABELS, "TOPIC_LABELS": TOPIC_LABELS, "FIELD_LABELS": FIELD_LABELS,
                "ITEM_STATE_LABELS": ITEM_STATE_LABELS, "REGISTRATION_LABELS": REGISTRATION_LABELS}
