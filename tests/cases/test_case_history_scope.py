"""The historial's access log tells only this case's activity: events recorded against this
case, and victim-level events (a reveal on the victim's own page, recorded against no case) by
institutions that see this case. A person's reveals through another case, or by an institution
that does not see this case, must not show: they would tell the lead that the other case exists
and who else works with the person."""

import pytest
from django.urls import reverse

from cases.services import offender_link_to_case, offender_register
from cases.sharing import case_share
from institutions.constants import Role
from kernel.choices import Sex
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, valid_run
from victims.constants import AgeStatus
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """One person, victim in a PDI case (ours) and in an OIM case (theirs)."""
    pdi, oim = InstitutionFactory(short_name="PDI"), InstitutionFactory(short_name="OIM")
    ours, theirs = CaseFactory(lead_institution=pdi), CaseFactory(lead_institution=oim)
    victim = victim_register(
        actor=None,
        institution=pdi,
        given_names="Rosa",
        surnames="Quispe",
        document_type="run",
        document_number=valid_run(18_222_333),
        sex=Sex.FEMALE,
        nationality="BO",
    )
    for case in (ours, theirs):
        victim_link_to_case(actor=None, victim=victim, case=case, age_status=AgeStatus.KNOWN, age_at_facts=30)
    offender = offender_register(actor=None, given_names="Juan", surnames="Soto", sex=Sex.MALE)
    offender_link_to_case(actor=None, offender=offender, case=ours)
    return {
        "ours": ours,
        "theirs": theirs,
        "victim": victim,
        "offender": offender,
        "pdi_officer": UserFactory(username="oficial.pdi", institution=pdi, role=Role.CASE_OFFICER),
        "oim": oim,
        "oim_officer": UserFactory(username="oficial.oim", institution=oim, role=Role.CASE_OFFICER),
    }


def history_accesses(client, world) -> tuple[list, str]:
    client.force_login(world["pdi_officer"])
    response = client.get(reverse("cases:history", args=[world["ours"].pk]))
    assert response.status_code == 200
    return list(response.context["accesses"].object_list), response.content.decode()


def test_reveals_of_the_person_through_another_case_stay_out_and_through_this_case_show(client, world):
    client.force_login(world["oim_officer"])
    assert client.post(reverse("cases:victims_identity", args=[world["theirs"].pk])).status_code == 200
    through_theirs = AccessEvent.objects.get(action=AccessAction.IDENTITY_READ, case_id=world["theirs"].pk)
    assert through_theirs.victim_code == world["victim"].code and through_theirs.actor_username == "oficial.oim"

    rows, body = history_accesses(client, world)
    assert rows == []
    assert "oficial.oim" not in body and "OIM" not in body

    # Our case shared with the OIM, identity on a legal basis: its reveals through our case show,
    # and its reveal through its own case still does not.
    case_share(
        actor=world["pdi_officer"],
        case_id=world["ours"].pk,
        institution=world["oim"],
        reason="Coordinación",
        can_view_identity=True,
        legal_basis="Oficio 12/2024",
    )
    client.force_login(world["oim_officer"])
    assert client.post(reverse("cases:victims_identity", args=[world["ours"].pk])).status_code == 200
    offender_url = reverse("cases:offender_identity", args=[world["ours"].pk, world["offender"].pk])
    assert client.post(offender_url).status_code == 200
    assert AccessEvent.objects.get(details__offender_code=world["offender"].code).case_id == world["ours"].pk

    rows, body = history_accesses(client, world)
    by_oim = [(row.action, row.victim_code, row.offender_code) for row in rows if row.actor == "oficial.oim"]
    assert by_oim == [
        ("Lectura de identidad", "", world["offender"].code),
        ("Lectura de identidad", world["victim"].code, ""),
    ]
    assert {row.institution for row in rows if row.actor == "oficial.oim"} == {"OIM"}


def test_a_reveal_on_the_victims_page_shows_only_when_made_by_an_institution_that_sees_this_case(client, world):
    client.force_login(world["oim_officer"])  # sees the person through its own case only
    assert client.post(reverse("victims:identity", args=[world["victim"].pk])).status_code == 200
    client.force_login(world["pdi_officer"])
    assert client.post(reverse("victims:identity", args=[world["victim"].pk])).status_code == 200
    assert AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ, case_id__isnull=True).count() == 2

    rows, body = history_accesses(client, world)

    assert [(row.actor, row.institution, row.victim_code) for row in rows] == [
        ("oficial.pdi", "PDI", world["victim"].code)
    ]
    assert "oficial.oim" not in body
