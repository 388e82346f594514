"""The administrators' page of worker credentials: one key per worker outside Sanshe,
limited to its topics; created, rotated and revoked here (or with ``sanshe workers
credentials``). A new key is shown once, in the answer to the request that made it."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.core import worker_credentials

from .admin import bp, known_roles_and_topics
from .context import unit


def _page(new_key: str = "", new_name: str = ""):
    _lanes, topics, _checks = known_roles_and_topics()
    with unit(readonly=True) as db:
        return render_template("admin/workers.html", credentials=worker_credentials.list_credentials(db),
                               topics=sorted(topics), new_key=new_key, new_name=new_name)


@bp.get("/workers")
def workers():
    return _page()


@bp.post("/workers")
def create_worker_credential():
    _lanes, topics, _checks = known_roles_and_topics()
    with unit() as db:
        row, key = worker_credentials.create(db, request.form.get("name", ""), request.form.getlist("topics"),
                                             topics, current_user.username)
        name = row.name
    # Rendered, not redirected: the key must not travel through the session cookie.
    return _page(key, name)


@bp.post("/workers/<int:credential_id>/rotate")
def rotate_worker_credential(credential_id):
    with unit() as db:
        row = worker_credentials.find(db, credential_id)
        key = worker_credentials.rotate(db, row, current_user.username)
        name = row.name
    return _page(key, name)


@bp.post("/workers/<int:credential_id>/revoke")
def revoke_worker_credential(credential_id):
    with unit() as db:
        row = worker_credentials.find(db, credential_id)
        worker_credentials.revoke(db, row, current_user.username)
    flash(_("The key no longer works."))
    return redirect(url_for("admin.workers"), code=303)
