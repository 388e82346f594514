"""Moving the chosen running projects onto a newer version: the request only starts a
migration run (``engine.core.migration_runs``); the scheduler moves it on in the
background, batch by batch, and the run's page shows how far it has got."""
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.core import migration_runs
from engine.core.deployments import get_definition
from engine.errors import ValidationError
from engine.queries.inbox import parse_int

from .admin import bp
from .context import unit


@bp.post("/migrate")
def migrate_start():
    """Start moving the chosen projects in the background; on to the run's page."""
    target_id = parse_int(request.form.get("target"))
    if not target_id:
        raise ValidationError(_("Choose the version to move projects to."))
    chosen = [int(i) for i in request.form.getlist("instance") if i.isdigit()]
    if not chosen:
        raise ValidationError(_("Choose at least one project to move."))
    with unit() as db:
        running = migration_runs.unfinished_run(db, target_id)
        if running is not None:
            raise ValidationError(_("Projects are being moved onto this version already (run %(id)s); "
                                    "wait until it has finished.", id=running.id))
        run = migration_runs.start_run(db, target_id, current_user.username, chosen)
        run_id = run.id
    return redirect(url_for("admin.migration_run", run_id=run_id))


@bp.post("/migrations/<int:run_id>/resume")
def migration_resume(run_id):
    """Let a run that stopped after failed batches go on; the scheduler takes it up again."""
    with unit() as db:
        migration_runs.resume_run(db, run_id, current_user.username)
    return redirect(url_for("admin.migration_run", run_id=run_id))


@bp.get("/migrations/<int:run_id>")
def migration_run(run_id):
    """How far a migration run has got, and the projects that could not move."""
    with unit(readonly=True) as db:
        run = migration_runs.get_run(db, run_id)
        target = get_definition(db, run.target_id)
        return render_template("admin/migration_run.html", run=run, target=target,
                               max_failures=migration_runs.MAX_FAILURES)
