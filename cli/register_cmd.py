"""Register commands: the social organizations a town keeps on its register."""
import click

from engine.core import access
from engine.core.db import unit_of_work
from engine.core.models import RegistrationStatus
from engine.method import register
from engine.method.catalog import ServiceField

from .app import clear_errors, main, pad, pass_ctx


@main.group()
def organizations():
    """The register of social organizations (统一社会信用代码, status, service fields)."""


def _fields(value: str) -> list[str]:
    return [field.strip() for field in value.split(",") if field.strip()]


@organizations.command("add")
@click.option("--town", required=True, help="The town (code or id) whose register it goes on.")
@click.option("--name", required=True, help="Registered name, e.g. 柳市镇阳光社会工作服务中心.")
@click.option("--name-en", default="", help="English name (optional).")
@click.option("--credit-code", required=True, help="Unified social credit code (18 characters, checked).")
@click.option("--fields", "service_fields", required=True,
              help=f"Service fields, comma-separated: {', '.join(ServiceField)}.")
@click.option("--status", default=RegistrationStatus.ACTIVE.value, show_default=True,
              type=click.Choice([s.value for s in RegistrationStatus]))
@click.option("--max-projects", default=3, show_default=True, help="Projects it may run at once.")
@click.option("--by", "actor", default="admin", show_default=True,
              help="Who registers it (a town official of that town, or an administrator).")
@pass_ctx
@clear_errors
def organizations_add(ctx, town, name, name_en, credit_code, service_fields, status, max_projects, actor):
    """Put an organization on a town's register; every bad field is listed and nothing is saved."""
    with unit_of_work(ctx.services.session_factory) as session:
        user = access.get_user(session, actor)
        org = register.register(session, user, {
            "town_id": access.find_scope(session, "town", town), "name": name, "name_en": name_en,
            "credit_code": credit_code, "service_fields": _fields(service_fields), "status": status,
            "max_concurrent_projects": max_projects})
        click.echo(f"registered {org.name} ({org.credit_code}), id {org.id}")


@organizations.command("status")
@click.argument("credit_code")
@click.argument("status", type=click.Choice([s.value for s in RegistrationStatus]))
@click.option("--by", "actor", default="admin", show_default=True, help="Who records the change.")
@pass_ctx
@clear_errors
def organizations_status(ctx, credit_code, status, actor):
    """Record a change of an organization's registration status (e.g. suspended, deregistered)."""
    with unit_of_work(ctx.services.session_factory) as session:
        user = access.get_user(session, actor)
        org = register.organization_kept(session, user, access.find_scope(session, "organization", credit_code))
        register.update(session, user, org.id, {
            "town_id": org.town_id, "name": org.name, "name_en": org.name_en, "credit_code": org.credit_code,
            "service_fields": list(org.service_fields or []), "status": status,
            "max_concurrent_projects": org.max_concurrent_projects})
        click.echo(f"{org.name}: {status}")


@organizations.command("list")
@click.option("--by", "actor", default="admin", show_default=True, help="Whose register (an administrator: all).")
@pass_ctx
@clear_errors
def organizations_list(ctx, actor):
    """One line per organization: credit code, name, status, service fields; the last line counts them."""
    with unit_of_work(ctx.services.session_factory, readonly=True) as session:
        orgs = register.organizations_kept_by(session, access.get_user(session, actor))
        for org in orgs:
            click.echo(f"{org.credit_code or '-':18} {pad(org.name, 40)} {org.status:12} "
                       f"{','.join(org.service_fields or [])}")
    click.echo(f"{len(orgs)} organizations")
