"""The migrations build exactly the tables the code declares, and move old data forward."""
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine import all_models  # noqa: F401  (registers every table)
from engine.core.db import MIGRATIONS_DIR, Base, make_engine, upgrade_schema


# SQLAlchemy reads no index on expressions back from SQLite (and says so): those indexes are
# compared by name and columns below instead.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_the_migrated_schema_matches_the_models(db_url):
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            expression_indexes = {index.name: index for table in Base.metadata.tables.values()
                                  for index in table.indexes if any(not hasattr(e, "name") for e in index.expressions)}
            assert set(expression_indexes) >= {"ix_mining_acts_waiting", "ix_mining_acts_follows"}
            for name, index in expression_indexes.items():
                assert _index_sql(connection, name) is not None, name
                for column in index.columns:
                    assert column.name in _index_sql(connection, name), (name, column.name)
    finally:
        engine.dispose()


def _index_sql(connection, name):
    if connection.dialect.name == "sqlite":
        return connection.execute(text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                                  {"n": name}).scalar()
    return connection.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": name}).scalar()


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
