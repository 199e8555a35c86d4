"""Who sees the access log: an institution's administrator sees their institution's events;
a case's lead sees who accessed that case. Neither shows identity."""

import pytest

from institutions.constants import Role
from kernel.audit import audit_record
from kernel.constants import AccessAction
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from victims.services import victim_link_to_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_institutions():
    mine, other = InstitutionFactory(short_name="PDI"), InstitutionFactory(short_name="CARAB")
    return {
        "mine": mine,
        "other": other,
        "admin": UserFactory(username="admin.pdi", institution=mine, role=Role.INSTITUTION_ADMIN),
        "officer": UserFactory(username="oficial.pdi", institution=mine),
        "other_officer": UserFactory(username="oficial.carab", institution=other),
    }


def test_an_institution_admin_sees_only_their_institutions_events(client, two_institutions):
    audit_record(AccessAction.EXPORT, actor=two_institutions["officer"], details={"marca": "evento-propio"})
    audit_record(AccessAction.EXPORT, actor=two_institutions["other_officer"], details={"marca": "evento-ajeno"})
    client.force_login(two_institutions["admin"])
    body = client.get("/auditoria/").content.decode()
    assert "oficial.pdi" in body
    assert "oficial.carab" not in body


@pytest.mark.parametrize("role", [Role.READER, Role.CASE_OFFICER])
def test_other_roles_cannot_read_the_institution_log(client, two_institutions, role):
    client.force_login(UserFactory(institution=two_institutions["mine"], role=role))
    assert client.get("/auditoria/").status_code == 403


def test_the_lead_sees_who_read_identity_in_its_case_and_nothing_of_other_cases(client, two_institutions):
    case = CaseFactory(lead_institution=two_institutions["mine"])
    other_case = CaseFactory(lead_institution=two_institutions["mine"])
    victim = VictimFactory(given_names="Rigoberta", registering_institution=two_institutions["mine"])
    victim_link_to_case(actor=None, victim=victim, case=case)
    audit_record(AccessAction.IDENTITY_READ, actor=two_institutions["officer"], victim_code=victim.code)
    audit_record(AccessAction.SHARE, actor=two_institutions["other_officer"], case_id=other_case.pk)
    client.force_login(two_institutions["officer"])
    response = client.get(f"/causas/{case.pk}/accesos/")
    body = response.content.decode()
    assert response.status_code == 200
    assert victim.code in body and "oficial.pdi" in body
    assert "oficial.carab" not in body
    assert "Rigoberta" not in body
