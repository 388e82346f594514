"""The inbox: my tasks and tasks open for my roles, with filters, sorting, pages, step counts."""
import time
from dataclasses import dataclass
from datetime import timezone

from babel import dates as babel_dates
from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.queries import budgets as budget_queries
from engine.queries import inbox as engine_inbox
from engine.queries import listings
from engine.errors import ValidationError

from .context import me, unit
from .i18n import ROLE_LABELS, translated

bp = Blueprint("inbox", __name__)
# The filter choices (processes, communities, organizations) change with deployments and
# administration, not with tasks; five queries per page view for them cost as much as the
# task list itself. Each person's choices are kept this long (seconds) per process.
CHOICES_TTL = 30.0


def filter_from_args(args):
    try:
        return engine_inbox.InboxFilter(
            view=args.get("view") or "open",
            process=args.get("process") or None,
            step=engine_inbox.parse_int(args.get("step")),
            community_id=engine_inbox.parse_int(args.get("community")),
            organization_id=engine_inbox.parse_int(args.get("organization")),
            sort=args.get("sort") or "newest",
            page=engine_inbox.parse_page(args.get("page")),
            per_page=engine_inbox.parse_int(args.get("per_page")) or 25,
            after=args.get("after") or None,
        )
    except ValidationError as exc:
        raise ValidationError(_("Invalid inbox filter: %(problems)s", problems="; ".join(
            f"{k}: {' '.join(map(translated, v))}" for k, v in exc.errors.items())), errors=exc.errors) from exc


def filter_args(flt, **changes):
    """Query-string arguments for links that keep the current filter."""
    args = {"view": flt.view, "process": flt.process, "step": flt.step, "community": flt.community_id,
            "organization": flt.organization_id, "sort": flt.sort, "page": flt.page,
            "per_page": flt.per_page if flt.per_page != 25 else None}
    args.update(changes)
    return {k: v for k, v in args.items() if v not in (None, "")}


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    name_en: str | None


def filter_choices(db, user):
    """{processes, communities, organizations} for the filter form, cached per person for CHOICES_TTL."""
    cache = current_app.extensions.setdefault("sanshe_inbox_choices", {})
    key = (user.id, current_user.grants)
    now = time.monotonic()
    hit = cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    choices = {"processes": listings.process_names(db),
               "communities": [Choice(c.id, c.name, c.name_en) for c in listings.communities_for(db, user)],
               "organizations": [Choice(o.id, o.name, o.name_en) for o in listings.organizations_for(db, user)]}
    if len(cache) > 1000:
        for stale in [k for k, (until, _) in cache.items() if until <= now]:
            del cache[stale]
    cache[key] = (now + CHOICES_TTL, choices)
    return choices


def date_formatters():
    """(when, day): the |datetime('short') and |date('short') filters' output, with the
    locale, time zone and Babel patterns looked up once per page instead of once per row."""
    locale, zone = get_locale(), get_timezone()
    glue = str(babel_dates.get_datetime_format("short", locale=locale)).replace("'", "")
    date_pattern = babel_dates.get_date_format("short", locale=locale)
    time_pattern = babel_dates.get_time_format("short", locale=locale)
    days = {}

    def local(value):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(zone)

    def local_day(value):
        if value not in days:
            days[value] = date_pattern.apply(value, locale)
        return days[value]

    def when(value):
        if not value:
            return ""
        value = local(value)
        clock = time_pattern.apply(value.timetz(), locale, reference_date=value.date())
        return glue.replace("{0}", clock).replace("{1}", local_day(value.date()))

    def day(value):
        return local_day(local(value).date()) if value else ""

    return when, day


@bp.get("/inbox")
@login_required
def index():
    flt = filter_from_args(request.args)
    partial = bool(request.headers.get("HX-Request"))
    with unit(readonly=True) as db:
        user = me(db)
        other = "mine" if flt.view == "open" else "open"
        page = engine_inbox.inbox_page(db, user, flt, other_view=other)
        totals = {flt.view: min(sum(page.counts_by_step.values()), engine_inbox.COUNT_CAP),
                  other: page.other_total}
        choices = None if partial else filter_choices(db, user)
        names = listings.display_names(db, {name for item in page.items
                                            for name in (item.task.claimed_by, item.task.assignee)})
        # Only those who keep budgets act on an earmark waiting for one.
        notices = budget_queries.notices_for(db, user) if not partial and current_user.has_role(
            "town_government", "administrator") else []
    when, day = date_formatters()
    return render_template("inbox/_list.html" if partial else "inbox/index.html", page=page, flt=flt, totals=totals,
                           choices=choices, notices=notices, filter_args=filter_args, cap=engine_inbox.COUNT_CAP,
                           script_root=request.script_root, when=when, day=day, username=current_user.username,
                           names=names,
                           role_labels={role: str(label) for role, label in ROLE_LABELS.items()})
