"""The page of a refused action (kernel.web.refused_input): each error under the field's Spanish
label, never a raw key, and a way back to the page the user came from."""

import re

import pytest
from django.urls import reverse

from cases.sharing import case_share
from institutions.constants import Role
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from victims.models import VictimConsent
from victims.services import victim_link_to_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_officer():
    return UserFactory(username="oficial.pdi", institution=InstitutionFactory(short_name="PDI"), role=Role.CASE_OFFICER)


@pytest.fixture
def victim(lead_officer):
    victim = VictimFactory(registering_institution=lead_officer.institution)
    victim_link_to_case(actor=None, victim=victim, case=CaseFactory(lead_institution=lead_officer.institution))
    return victim


def error_items(body: str) -> list[str]:
    listing = re.search(r'<ul class="error">(.*?)</ul>', body, re.S).group(1)
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in re.findall(r"<li>(.*?)</li>", listing)
    ]


def test_a_refused_consent_names_its_fields_by_their_spanish_labels(client, lead_officer, victim):
    client.force_login(lead_officer)

    response = client.post(reverse("victims:consent_record", args=[victim.pk]), {"given_on": "", "scope": ""})

    assert response.status_code == 400
    body = response.content.decode()
    items = error_items(body)
    assert any(item.startswith("Fecha del consentimiento: ") for item in items), items
    assert any(item.startswith("Alcance: ") for item in items), items
    assert "given_on" not in body and "scope:" not in body
    assert not VictimConsent.objects.filter(victim=victim).exists()


def test_a_key_the_view_labels_shows_that_label_and_errors_of_no_field_show_no_key(client, lead_officer):
    case = CaseFactory(lead_institution=lead_officer.institution)
    share = case_share(actor=lead_officer, case_id=case.pk, institution=InstitutionFactory(), reason="Coordinación")
    client.force_login(lead_officer)
    unshare = reverse("cases:unshare", args=[case.pk, share.pk])

    refused = client.post(unshare, {"reason": ""})
    assert refused.status_code == 400
    assert [item.split(":")[0] for item in error_items(refused.content.decode())] == ["Motivo de la revocación"]
    assert "reason" not in refused.content.decode()

    client.post(unshare, {"reason": "Terminó la coordinación"})
    again = client.post(unshare, {"reason": "Otra vez"})  # a rule of the domain: no field
    assert again.status_code == 409
    assert error_items(again.content.decode()) == ["Este acceso ya fue revocado."]
    assert "__all__" not in again.content.decode()


def test_the_refused_page_links_back_to_the_referring_page_only_on_this_site(client, lead_officer, victim):
    client.force_login(lead_officer)
    url = reverse("victims:consent_record", args=[victim.pk])
    ours = f"http://testserver{reverse('victims:detail', args=[victim.pk])}"

    back = client.post(url, {"given_on": ""}, HTTP_REFERER=ours).content.decode()
    assert f'<a href="{ours}">Volver</a>' in back
    assert f'<a href="{reverse("home")}">Volver al inicio</a>' in back

    for referer in ("https://otro.example/phish", ""):
        body = client.post(url, {"given_on": ""}, HTTP_REFERER=referer).content.decode()
        assert ">Volver</a>" not in body and "otro.example" not in body
        assert f'<a href="{reverse("home")}">Volver al inicio</a>' in body
