"""Upgrading a database with rows to the yearly catalog and the register (migration 0003)."""
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from engine.core.db import MIGRATIONS_DIR, make_engine, upgrade_schema
from engine.method.catalog import this_year


def upgrade_to(engine, revision):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_existing_items_and_organizations_keep_their_meaning(db_url):
    engine = make_engine(db_url)
    try:
        upgrade_to(engine, "0002")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO towns (id, code, name, name_en, kind) VALUES (1, 'liushi', '柳市镇', '', 'town')"))
            conn.execute(text("INSERT INTO communities (id, code, name, name_en, town_id, kind, population) "
                              "VALUES (1, 'xiangdong', '象东社区', '', 1, 'rural', 0)"))
            for org_id, registered, active in ((1, True, True), (2, True, False), (3, False, True)):
                conn.execute(text("INSERT INTO organizations (id, code, name, name_en, registered, active, service_fields, "
                                  "max_concurrent_projects, town_id) VALUES (:id, :code, '机构', '', :r, :a, '[]', 3, 1)"),
                             {"id": org_id, "code": f"org{org_id}", "r": registered, "a": active})
            conn.execute(text("INSERT INTO catalog_items (id, community_id, code, name, name_en, service_field, social_work, "
                              "description) VALUES (1, 1, 'E01', '居家养老服务', '', 'elderly', false, '')"))
            # A user refers to an organization: the upgrade must not rebuild the table under it.
            conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, active, locale, "
                              "organization_id, failed_logins, created_at) "
                              "VALUES (1, 'lead', '负责人', '', true, 'zh_CN', 1, 0, CURRENT_TIMESTAMP)"))
        upgrade_schema(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, status FROM organizations ORDER BY id")).all() == [
                (1, "active"), (2, "deregistered"), (3, "unregistered")]
            assert conn.execute(text("SELECT year, revision, approved_revision, retired_at FROM catalog_items")).one() == (
                this_year(), 1, None, None)  # this year's catalog, awaiting the town's approval
            # The account's organization became an employment affiliation (migration 0005).
            assert conn.execute(text("SELECT organization_id FROM affiliations")).scalar() == 1
    finally:
        engine.dispose()
