"""The inbox: my tasks and tasks open for my roles, with filters, sorting, pages, step counts."""
from flask import Blueprint, render_template, request
from flask_login import login_required

from engine import inbox as engine_inbox
from engine import listings
from engine.errors import ValidationError

from .context import me, unit
from .i18n import ROLE_LABELS

bp = Blueprint("inbox", __name__)


def filter_from_args(args):
    try:
        return engine_inbox.InboxFilter(
            view=args.get("view") or "open",
            process=args.get("process") or None,
            step=engine_inbox.parse_int(args.get("step")),
            community_id=engine_inbox.parse_int(args.get("community")),
            organization_id=engine_inbox.parse_int(args.get("organization")),
            sort=args.get("sort") or "newest",
            page=engine_inbox.parse_int(args.get("page")) or 1,
            per_page=engine_inbox.parse_int(args.get("per_page")) or 25,
        )
    except ValidationError as exc:
        raise ValidationError("Invalid inbox filter: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in exc.errors.items()), errors=exc.errors) from exc


def filter_args(flt, **changes):
    """Query-string arguments for links that keep the current filter."""
    args = {"view": flt.view, "process": flt.process, "step": flt.step, "community": flt.community_id,
            "organization": flt.organization_id, "sort": flt.sort, "page": flt.page}
    args.update(changes)
    return {k: v for k, v in args.items() if v not in (None, "")}


@bp.get("/inbox")
@login_required
def index():
    flt = filter_from_args(request.args)
    with unit(readonly=True) as db:
        user = me(db)
        page = engine_inbox.inbox_page(db, user, flt)
        other = engine_inbox.InboxFilter(view="mine" if flt.view == "open" else "open")
        other_total = engine_inbox.count_tasks(db, user, other.view)
        totals = {flt.view: min(sum(page.counts_by_step.values()), engine_inbox.COUNT_CAP),
                  other.view: other_total}
        choices = None
        if not request.headers.get("HX-Request"):
            choices = {"processes": listings.process_keys(db),
                       "communities": listings.communities_for(db, user),
                       "organizations": listings.organizations_for(db, user)}
    template = "inbox/_list.html" if request.headers.get("HX-Request") else "inbox/index.html"
    return render_template(template, page=page, flt=flt, totals=totals, choices=choices, filter_args=filter_args,
                           cap=engine_inbox.COUNT_CAP, script_root=request.script_root,
                           role_labels={role: str(label) for role, label in ROLE_LABELS.items()})
