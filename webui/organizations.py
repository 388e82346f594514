"""The register of social organizations, kept by each town government for its area and by
administrators: registration, credit code, status, service fields, branches, staff."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from engine.core.models import RegistrationStatus
from engine.errors import ValidationError
from engine.method import register
from engine.method.catalog import ServiceField

from .catalog import field_errors
from .context import me, unit

bp = Blueprint("organizations", __name__, url_prefix="/organizations")


def org_values(form) -> dict:
    return {"name": form.get("name", ""), "name_en": form.get("name_en", ""),
            "credit_code": form.get("credit_code", ""), "status": form.get("status", ""),
            "service_fields": form.getlist("service_fields"),
            "max_concurrent_projects": form.get("max_concurrent_projects", ""), "town_id": form.get("town_id", "")}


def render_form(db, org=None, form=None, errors=None, status: int = 200):
    user = me(db)
    context = {"towns": register.towns_kept_by(db, user), "fields": list(ServiceField),
               "statuses": list(RegistrationStatus), "org": org, "errors": errors or {}}
    if org is not None:
        context.update(branches=register.branches(db, org.id), staff=register.staff(db, org.id))
        form = form or {"name": org.name, "name_en": org.name_en, "credit_code": org.credit_code or "",
                        "status": org.status, "max_concurrent_projects": org.max_concurrent_projects,
                        "town_id": org.town_id, "service_fields": list(org.service_fields or [])}
    form = form or {"status": RegistrationStatus.ACTIVE, "max_concurrent_projects": 3,
                    "town_id": context["towns"][0].id if len(context["towns"]) == 1 else ""}
    # A posted form lists each checked field once; a stored entry holds them as a list.
    chosen = form.getlist("service_fields") if isinstance(form, MultiDict) else form.get("service_fields", [])
    return render_template("organizations/form.html", form=form, chosen=chosen, **context), status


@bp.get("/")
@login_required
def index():
    with unit(readonly=True) as db:
        user = me(db)
        register.check_may_register(db, user)
        orgs = register.organizations_kept_by(db, user)
        towns = {town.id: town for town in register.towns_kept_by(db, user)}
        return render_template("organizations/index.html", orgs=orgs, towns=towns)


@bp.route("/new", methods=("GET", "POST"))
@login_required
def new():
    if request.method == "POST":
        try:
            with unit() as db:
                org = register.register(db, me(db), org_values(request.form))
                org_id, name = org.id, org.name
            flash(_("%(name)s is on the register.", name=name))
            return redirect(url_for("organizations.show", organization_id=org_id), code=303)
        except ValidationError as exc:
            with unit(readonly=True) as db:
                return render_form(db, form=request.form, errors=field_errors(exc), status=422)
    with unit(readonly=True) as db:
        register.check_may_register(db, me(db))
        return render_form(db)


@bp.route("/<int:organization_id>", methods=("GET", "POST"))
@login_required
def show(organization_id: int):
    if request.method == "POST":
        try:
            with unit() as db:
                register.update(db, me(db), organization_id, org_values(request.form))
            flash(_("The register entry was saved."))
            return redirect(url_for("organizations.show", organization_id=organization_id), code=303)
        except ValidationError as exc:
            with unit(readonly=True) as db:
                org = register.organization_kept(db, me(db), organization_id)
                return render_form(db, org, form=request.form, errors=field_errors(exc), status=422)
    with unit(readonly=True) as db:
        return render_form(db, register.organization_kept(db, me(db), organization_id))


@bp.post("/<int:organization_id>/branches")
@login_required
def add_branch(organization_id: int):
    try:
        with unit() as db:
            register.add_branch(db, me(db), organization_id, request.form.get("branch_name", ""),
                                request.form.get("branch_address", ""))
    except ValidationError as exc:
        with unit(readonly=True) as db:
            org = register.organization_kept(db, me(db), organization_id)
            return render_form(db, org, errors=field_errors(exc), status=422)
    flash(_("The branch was added."))
    return redirect(url_for("organizations.show", organization_id=organization_id), code=303)


@bp.post("/<int:organization_id>/branches/<int:branch_id>/remove")
@login_required
def remove_branch(organization_id: int, branch_id: int):
    with unit() as db:
        register.remove_branch(db, me(db), organization_id, branch_id)
    flash(_("The branch was removed."))
    return redirect(url_for("organizations.show", organization_id=organization_id), code=303)
