"""The administrators' people pages: accounts, display names, roles in scopes, and the
organizations each person works for or belongs to (affiliations, with dates).

Each request is one unit of work: a refused field (an unknown organization, a date in the
wrong order) changes nothing, not even the account a new-account form was creating.
"""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.core import affiliations, audit
from engine.core import users as user_store
from engine.core.models import ROLE_SCOPE_TYPE, ROLES, AffiliationKind, utcnow
from engine.errors import ValidationError
from engine.queries.inbox import parse_int
from engine.queries.listings import scope_names

from .admin import bp
from .context import me, unit


def _organizations(names: dict) -> list[tuple[int, str]]:
    return sorted(((i, n) for (t, i), n in names.items() if t == "organization"), key=lambda p: p[1])


@bp.get("/users")
def users():
    with unit(readonly=True) as db:
        names = scope_names(db)
        return render_template("admin/users.html", users=user_store.list_users(db), names=names,
                               organizations=_organizations(names), kinds=list(AffiliationKind),
                               today=utcnow().date().isoformat())


@bp.post("/users")
def create_user():
    """A new account; with an organization chosen, its affiliation is recorded at once."""
    form = request.form
    with unit() as db:
        user = user_store.create_user(db, form.get("username", ""), form.get("password", ""),
                                      display_name=form.get("display_name", "").strip())
        if form.get("organization_id"):
            affiliations.add(db, user, form.get("organization_id"), form.get("kind", ""),
                             form.get("starts_on") or utcnow().date(), form.get("ends_on"), form.get("title", ""))
        audit.record(db, current_user.username, "user_create", f"user {user.username}")
        user_id = user.id
    flash(_("Account created."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.get("/users/<int:user_id>")
def user(user_id):
    with unit(readonly=True) as db:
        found = user_store.find_user(db, user_id)
        names = scope_names(db)
        scopes = {kind: sorted(((i, n) for (t, i), n in names.items() if t == kind), key=lambda p: p[1])
                  for kind in ("town", "community", "organization")}
        return render_template("admin/user.html", user=found, grants=sorted(found.grants, key=lambda g: g.role),
                               names=names, roles=ROLES, scope_types=ROLE_SCOPE_TYPE, scopes=scopes,
                               affiliations=list(found.affiliations), kinds=list(AffiliationKind),
                               organizations=_organizations(names), today=utcnow().date().isoformat())


@bp.post("/users/<int:user_id>/name")
def rename(user_id):
    """Change the name people see everywhere (the sign-in name stays)."""
    with unit() as db:
        found = user_store.find_user(db, user_id)
        user_store.set_display_name(db, found, request.form.get("display_name", ""))
        audit.record(db, current_user.username, "user_rename", f"user {found.username}",
                     {"display_name": found.display_name})
    flash(_("Name changed."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.post("/users/<int:user_id>/affiliations")
def add_affiliation(user_id):
    form = request.form
    with unit() as db:
        found = user_store.find_user(db, user_id)
        tie = affiliations.add(db, found, form.get("organization_id"), form.get("kind", ""), form.get("starts_on"),
                               form.get("ends_on"), form.get("title", ""))
        audit.record(db, current_user.username, "affiliation_add", f"user {found.username}",
                     {"organization_id": tie.organization_id, "kind": tie.kind, "starts_on": str(tie.starts_on)})
    flash(_("Affiliation recorded."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.post("/users/<int:user_id>/affiliations/<int:affiliation_id>/end")
def end_affiliation(user_id, affiliation_id):
    with unit() as db:
        found = user_store.find_user(db, user_id)
        tie = affiliations.end(db, found, affiliation_id, request.form.get("ends_on"))
        audit.record(db, current_user.username, "affiliation_end", f"user {found.username}",
                     {"organization_id": tie.organization_id, "ends_on": str(tie.ends_on)})
    flash(_("Affiliation ended."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.post("/users/<int:user_id>/grant")
def grant(user_id):
    """Grant a role in one scope; ``scope`` is ``type:id`` and must be of the role's scope type."""
    role = request.form.get("role", "")
    scope_type, _sep, scope_id = request.form.get("scope", "").partition(":")
    needed = ROLE_SCOPE_TYPE.get(role)
    if needed not in (None, "global") and scope_type != needed:
        raise ValidationError(_("The role %(role)s is held in a %(kind)s: choose one.", role=role, kind=needed),
                              errors={"scope": [needed]})
    with unit() as db:
        found = user_store.find_user(db, user_id)
        granted = user_store.grant_role(db, found, role, parse_int(scope_id) or 0)
        audit.record(db, current_user.username, "role_grant", f"user {found.username}",
                     {"role": role, "scope_type": granted.scope_type, "scope_id": granted.scope_id})
    flash(_("Role granted."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.post("/users/<int:user_id>/revoke")
def revoke(user_id):
    role, scope_id = request.form.get("role", ""), parse_int(request.form.get("scope_id")) or 0
    with unit() as db:
        found = user_store.find_user(db, user_id)
        if found.id == me(db).id and role == "administrator":
            raise ValidationError(_("You cannot take away your own administrator role."))
        if user_store.revoke_role(db, found, role, scope_id):
            audit.record(db, current_user.username, "role_revoke", f"user {found.username}",
                         {"role": role, "scope_id": scope_id})
    flash(_("Role taken away."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id):
    with unit() as db:
        found = user_store.find_user(db, user_id)
        if found.id == me(db).id:
            raise ValidationError(_("You cannot deactivate your own account."))
        user_store.deactivate(db, found)
        audit.record(db, current_user.username, "user_deactivate", f"user {found.username}")
    flash(_("Account deactivated: the person can no longer sign in."))
    return redirect(url_for("admin.user", user_id=user_id), code=303)
