"""Who sees the access log: an institution's administrator sees their institution's events;
a case's lead sees who accessed that case in its historial. Neither shows identity."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from institutions.constants import Role
from kernel.audit import audit_record
from kernel.audit_views import ACCESS_LOG_PAGE_SIZE, institution_access_log_view
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
    response = client.get(reverse("cases:history", args=[case.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert victim.code in body and "oficial.pdi" in body
    assert "oficial.carab" not in body
    assert "Rigoberta" not in body


def test_the_case_access_page_is_gone_the_historial_replaced_it(client, two_institutions):
    case = CaseFactory(lead_institution=two_institutions["mine"])
    client.force_login(two_institutions["officer"])
    assert client.get(f"/causas/{case.pk}/accesos/").status_code == 404
    with pytest.raises(NoReverseMatch):
        reverse("cases:access_log", args=[case.pk])


def test_the_institution_log_pages_past_its_first_50_events_and_is_never_cached(client, two_institutions):
    for n in range(ACCESS_LOG_PAGE_SIZE + 3):
        audit_record(AccessAction.EXPORT, actor=two_institutions["officer"], details={"n": n})
    client.force_login(two_institutions["admin"])

    first = client.get(reverse("access_log"))
    assert len(first.context["page"].object_list) == ACCESS_LOG_PAGE_SIZE
    assert 'href="?pagina=2" rel="next"' in first.content.decode()
    assert "no-store" in first["Cache-Control"]

    second = client.get(reverse("access_log"), {"pagina": 2})
    assert second.status_code == 200
    events = list(second.context["page"].object_list)
    # The admin's sign-in is an event of the institution too: 54 in all, the oldest 4 here.
    assert second.context["page"].paginator.count == ACCESS_LOG_PAGE_SIZE + 4
    assert [event.details.get("n") for event in events] == [3, 2, 1, 0]
    body = second.content.decode()
    assert "Página 2 de 2" in body and 'href="?pagina=1" rel="prev"' in body


def test_the_refusal_of_the_institution_log_is_in_spanish(two_institutions):
    request = RequestFactory().get(reverse("access_log"))
    request.user = two_institutions["officer"]
    with translation.override("es"), pytest.raises(PermissionDenied) as refused:
        institution_access_log_view(request)
    assert str(refused.value) == "Solo el administrador institucional puede ver el registro de accesos."
