"""The migrations build exactly the tables the code declares, and move old data forward."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine import all_models  # noqa: F401  (registers every table)
from engine.core.db import MIGRATIONS_DIR, Base, make_engine, upgrade_schema


def test_the_migrated_schema_matches_the_models(db_url):
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_an_accounts_organization_becomes_an_employment_affiliation(db_url):
    engine = make_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            connection.execute(text("INSERT INTO towns (id, code, name, name_en, kind) VALUES (1, 't', '柳市镇', '', 'town')"))
            connection.execute(text(
                "INSERT INTO organizations (id, code, name, name_en, registered, active, service_fields, "
                "max_concurrent_projects, town_id) VALUES (1, 'o', '阳光社工', '', true, true, '[]', 3, 1)"))
            connection.execute(text(
                "INSERT INTO users (id, username, display_name, password_hash, active, locale, organization_id, "
                "failed_logins, created_at) VALUES (1, 'u', '张三', '', true, 'zh_CN', 1, 0, '2024-05-06 10:00:00')"))
            connection.execute(text("INSERT INTO role_grants (user_id, role, scope_type, scope_id) "
                                    "VALUES (1, 'social_organization', 'organization', 1)"))
        upgrade_schema(engine)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT user_id, organization_id, kind, starts_on, ends_on "
                                           "FROM affiliations")).all()
            assert [(r[0], r[1], r[2], str(r[3]), r[4]) for r in rows] == [(1, 1, "employment", "2024-05-06", None)]
            assert connection.execute(text("SELECT count(*) FROM role_grants")).scalar() == 1
    finally:
        engine.dispose()
