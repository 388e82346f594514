"""Small seed rows for worker tests: one town, one community, organizations, people, an instance."""
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from engine.core.models import (
    Affiliation, CatalogItem, Community, Definition, Instance, Job, Organization, RoleGrant, Town, User,
)


@dataclass
class Seed:
    town_id: int
    community_id: int
    org_ids: dict
    item_ids: dict
    definition_id: int
    instance_id: int
    users: dict = field(default_factory=dict)

    @classmethod
    def pilot(cls, session):
        town = Town(code="liushi", name="柳市镇", name_en="Liushi", kind="town")
        session.add(town)
        session.flush()
        community = Community(code="xiangdong", name="象东社区", name_en="Xiangdong", town_id=town.id,
                              kind="rural", population=20000)
        session.add(community)
        session.flush()
        orgs = {
            "sunshine": Organization(code="sunshine", name="阳光社工服务中心", service_fields=["elderly", "youth"],
                                     max_concurrent_projects=2, town_id=town.id),
            "harmony": Organization(code="harmony", name="和谐调解协会", service_fields=["mediation"], town_id=town.id),
            "dormant": Organization(code="dormant", name="停办协会", service_fields=["elderly"], status="deregistered",
                                    town_id=town.id),
            "unregistered": Organization(code="unregistered", name="未登记团队", service_fields=["elderly"],
                                         status="unregistered", town_id=town.id),
        }
        session.add_all(orgs.values())
        items = {
            "elderly_care": CatalogItem(community_id=community.id, year=2014, code="elderly_care", name="居家养老服务",
                                        service_field="elderly", social_work=True),
            "mediation": CatalogItem(community_id=community.id, year=2014, code="mediation", name="邻里纠纷调解",
                                     service_field="mediation"),
        }
        session.add_all(items.values())
        definition = Definition(key="seven_step_project", version=1, content_hash="x" * 64, bpmn_file="t.bpmn",
                                bpmn_xml="<definitions/>", forms={}, deployed_by="test")
        session.add(definition)
        session.flush()
        instance = Instance(definition_id=definition.id, title="居家养老", town_id=town.id, community_id=community.id,
                            organization_id=orgs["sunshine"].id, catalog_item_id=items["elderly_care"].id)
        session.add(instance)
        session.flush()
        seed = cls(town.id, community.id, {k: o.id for k, o in orgs.items()}, {k: i.id for k, i in items.items()},
                   definition.id, instance.id)
        for i in range(1, 10):
            seed.add_user(session, f"rep{i}", "resident_representative", "community", community.id)
        seed.add_user(session, "lead", "social_organization", "organization", orgs["sunshine"].id,
                      organization_id=orgs["sunshine"].id)
        # rep9 works for the applicant: recused from its vote.
        session.add(Affiliation(user_id=seed.users["rep9"], organization_id=orgs["sunshine"].id,
                                kind="employment", starts_on=date(2020, 1, 1)))
        seed.add_user(session, "chair", "community_committee", "community", community.id)
        session.flush()
        return seed

    def add_user(self, session, username, role, scope_type, scope_id, organization_id=None):
        user = User(username=username, display_name=username)
        user.grants.append(RoleGrant(role=role, scope_type=scope_type, scope_id=scope_id))
        session.add(user)
        session.flush()
        if organization_id is not None:
            session.add(Affiliation(user_id=user.id, organization_id=organization_id, kind="employment",
                                    starts_on=date(2020, 1, 1)))
        self.users[username] = user.id
        return user

    def new_instance(self, session, **overrides):
        instance = Instance(definition_id=self.definition_id, title="p", town_id=self.town_id,
                            community_id=self.community_id, organization_id=self.org_ids["sunshine"],
                            catalog_item_id=self.item_ids["elderly_care"], **overrides)
        session.add(instance)
        session.flush()
        return instance.id

    def add_jobs(self, session, topic, n, instance_id=None, variables=None, priority=0, retries=3):
        jobs = [Job(instance_id=instance_id or self.instance_id, task_id=str(uuid.uuid4()),
                    bpmn_id=f"svc_{topic}", name=topic, topic=topic, step=5, variables=variables or {},
                    priority=priority, retries=retries,
                    run_after=datetime(2000, 1, 1)) for i in range(n)]
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]
