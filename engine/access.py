"""Who may see and act on what: roles held in scopes.

The rule: a user sees a task when they hold the lane's role in the instance's scope of that
role's type (a community for the community committee, a town for the town government, an
organization for its staff ...), and, when the diagram assigns the task to a person, only
that person sees it. Administrators hold the ``global`` scope.
"""
from sqlalchemy import select

from .errors import ConflictError, ForbiddenError, NotFoundError
from .models import ROLE_SCOPE_TYPE, RoleGrant, User


def scope_for(role, town_id, community_id, organization_id):
    """The (scope_type, scope_id) an instance's task in ``role``'s lane belongs to."""
    scope_type = ROLE_SCOPE_TYPE.get(role, "global")
    scope_id = {"town": town_id, "community": community_id, "organization": organization_id}.get(scope_type, 0)
    return scope_type, scope_id or 0


def grants_of(session, user):
    """The set of (role, scope_type, scope_id) the user holds."""
    rows = session.execute(
        select(RoleGrant.role, RoleGrant.scope_type, RoleGrant.scope_id).where(RoleGrant.user_id == user.id)
    ).all()
    return {tuple(row) for row in rows}


def holds(session, user, role, scope_type, scope_id):
    return (role, scope_type, scope_id) in grants_of(session, user)


def can_see_task(session, user, task):
    if task.assignee is not None:
        return task.assignee == user.username
    return holds(session, user, task.role, task.scope_type, task.scope_id)


def check_task_access(session, user, task):
    """Raise NotFoundError for a task the user may not see (its existence is not revealed)."""
    if user is None or not user.active or not can_see_task(session, user, task):
        raise NotFoundError("No such task in your inbox.")


def check_can_act(session, user, task):
    """The user may complete the task: it is visible and not claimed by someone else."""
    check_task_access(session, user, task)
    if task.state != "ready":
        raise ConflictError(f"This task is already {task.state}.")
    if task.claimed_by not in (None, user.username):
        raise ForbiddenError(f"This task is claimed by {task.claimed_by}.")


def get_user(session, username):
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"No user named {username!r}.")
    return user
