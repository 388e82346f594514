"""The catalog of transferable service items (step 1): the community committee keeps its
catalog per year, the town government approves it."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.errors import ForbiddenError, ValidationError
from engine.method import catalog
from engine.queries.listings import display_names

from .context import me, settings, unit
from .i18n import translated

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


def this_year() -> int:
    return catalog.this_year(settings().calendar_utc_offset_hours)


def item_values(form) -> dict:
    """The editable fields of an item as posted by the form."""
    return {"code": form.get("code", ""), "name": form.get("name", ""), "name_en": form.get("name_en", ""),
            "service_field": form.get("service_field", ""), "social_work": form.get("social_work") == "1",
            "description": form.get("description", "")}


def field_errors(exc: ValidationError) -> dict:
    return {name: [translated(m) for m in messages] for name, messages in exc.errors.items()}


@bp.get("/")
@login_required
def index():
    """The catalogs the user sees; one community goes straight to its catalog of this year."""
    year = this_year()
    with unit(readonly=True) as db:
        communities = catalog.communities_for(db, me(db))
        if len(communities) == 1:
            return redirect(url_for("catalog.show", community_id=communities[0].id, year=year))
        views = [catalog.catalog(db, me(db), c.id, year) for c in communities]
        return render_template("catalog/index.html", views=views, year=year)


def render_catalog(db, community_id: int, year: int, form=None, errors=None, status: int = 200):
    user = me(db)
    view = catalog.catalog(db, user, community_id, year)
    names = display_names(db, {row.item.updated_by for row in view.rows} | {row.item.retired_by for row in view.rows}
                          | ({view.approval.approved_by} if view.approval else set()))
    return render_template("catalog/show.html", view=view, names=names, this_year=this_year(),
                           may_edit=catalog.may_edit(db, user, view.community),
                           may_approve=catalog.may_approve(db, user, view.community),
                           fields=list(catalog.ServiceField), form=form or {}, errors=errors or {}), status


@bp.get("/<int:community_id>/<int:year>")
@login_required
def show(community_id: int, year: int):
    with unit(readonly=True) as db:
        return render_catalog(db, community_id, year)


@bp.post("/<int:community_id>/<int:year>/items")
@login_required
def add(community_id: int, year: int):
    values = item_values(request.form)
    try:
        with unit() as db:
            item = catalog.add_item(db, me(db), community_id, year, values)
            name = item.name
    except ValidationError as exc:
        with unit(readonly=True) as db:
            return render_catalog(db, community_id, year, form=request.form, errors=field_errors(exc), status=422)
    flash(_("%(name)s was added to the catalog; it awaits the town's approval.", name=name))
    return redirect(url_for("catalog.show", community_id=community_id, year=year), code=303)


@bp.route("/items/<int:item_id>/edit", methods=("GET", "POST"))
@login_required
def edit(item_id: int):
    errors = {}
    if request.method == "POST":
        try:
            with unit() as db:
                item = catalog.edit_item(db, me(db), item_id, item_values(request.form))
                target = url_for("catalog.show", community_id=item.community_id, year=item.year)
            flash(_("The item was saved."))
            return redirect(target, code=303)
        except ValidationError as exc:
            errors = field_errors(exc)
    with unit(readonly=True) as db:
        user = me(db)
        item = catalog.item_in_view(db, user, item_id)
        community = catalog.community_in_view(db, user, item.community_id)
        if not catalog.may_edit(db, user, community):
            raise ForbiddenError(_("Only the committee of %(community)s keeps its catalog.", community=community.name))
        form = request.form if request.method == "POST" else {
            "name": item.name, "name_en": item.name_en, "service_field": item.service_field,
            "social_work": "1" if item.social_work else "", "description": item.description}
        return render_template("catalog/edit.html", item=item, community=community, form=form, errors=errors,
                               fields=list(catalog.ServiceField)), 422 if errors else 200


@bp.post("/items/<int:item_id>/retire")
@login_required
def retire(item_id: int):
    with unit() as db:
        item = catalog.retire_item(db, me(db), item_id)
        name, target = item.name, url_for("catalog.show", community_id=item.community_id, year=item.year)
    flash(_("%(name)s is retired: no new project starts on it; projects already on it go on.", name=name))
    return redirect(target, code=303)


@bp.post("/items/<int:item_id>/remove")
@login_required
def remove(item_id: int):
    with unit() as db:
        item = catalog.item_in_view(db, me(db), item_id)
        name, target = item.name, url_for("catalog.show", community_id=item.community_id, year=item.year)
        catalog.remove_item(db, me(db), item_id)
    flash(_("%(name)s was removed from the catalog.", name=name))
    return redirect(target, code=303)


@bp.post("/<int:community_id>/<int:year>/approve")
@login_required
def approve(community_id: int, year: int):
    with unit() as db:
        approval = catalog.approve(db, me(db), community_id, year)
        count = len(approval.items)
    flash(_("The catalog is approved (%(count)s items).", count=count))
    return redirect(url_for("catalog.show", community_id=community_id, year=year), code=303)


@bp.post("/<int:community_id>/<int:year>/copy")
@login_required
def copy(community_id: int, year: int):
    """Start this catalog with the open items of the year before."""
    with unit() as db:
        copies = catalog.copy_year(db, me(db), community_id, year - 1, year)
    flash(_("%(count)s items carried over from %(year)s; they await the town's approval.",
            count=len(copies), year=year - 1))
    return redirect(url_for("catalog.show", community_id=community_id, year=year), code=303)
