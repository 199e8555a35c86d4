"""The "Mostrar identidad" pages: Spanish labels, never internal field names or codes."""

import datetime

import pytest
from django.urls import reverse

from cases.services import offender_link_to_case, offender_register
from kernel.choices import Sex
from tests.factories import CaseFactory, valid_run
from victims.constants import AgeStatus
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db
INTERNAL_NAMES = ("given_names", "surnames", "document_type", "document_number", "birth_date", ">run<")


def test_a_victim_identity_is_shown_with_spanish_labels(client, officer):
    case = CaseFactory(lead_institution=officer.institution)
    victim = victim_register(
        actor=None,
        institution=officer.institution,
        given_names="Rosa Elena",
        surnames="Quispe Mamani",
        document_type="run",
        document_number=valid_run(15_234_567),
        birth_date=datetime.date(1998, 4, 3),
        sex=Sex.FEMALE,
    )
    victim_link_to_case(actor=None, victim=victim, case=case, age_status=AgeStatus.KNOWN, age_at_facts=25)
    client.force_login(officer)

    response = client.post(reverse("victims:identity", args=[victim.pk]))

    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    assert "Rosa Elena" in body and "Quispe Mamani" in body and "03-04-1998" in body
    assert ">RUN<" in body and "Identidad de la víctima" in body
    assert not any(name in body for name in INTERNAL_NAMES)
    assert reverse("victims:detail", args=[victim.pk]) in body


def test_an_offender_identity_is_shown_with_spanish_labels(client, officer):
    case = CaseFactory(lead_institution=officer.institution)
    offender = offender_register(
        actor=None,
        given_names="Juan",
        surnames="Soto",
        document_type="run",
        document_number=valid_run(9_876_543),
        sex=Sex.MALE,
    )
    offender_link_to_case(actor=None, offender=offender, case=case)
    client.force_login(officer)

    response = client.post(reverse("cases:offender_identity", args=[case.pk, offender.pk]))

    body = response.content.decode()
    assert response.status_code == 200 and "Identidad del imputado" in body and "Soto" in body
    assert not any(name in body for name in INTERNAL_NAMES)
    assert reverse("cases:offenders", args=[case.pk]) in body


def test_behind_the_proxy_a_reveal_is_logged_with_the_client_address(client, officer, settings):
    from kernel.constants import AccessAction
    from kernel.models import AccessEvent

    settings.MITP_PROXY_COUNT = 1
    case = CaseFactory(lead_institution=officer.institution)
    victim = victim_register(actor=None, institution=officer.institution, given_names="Ana", sex=Sex.FEMALE)
    victim_link_to_case(actor=None, victim=victim, case=case, age_status=AgeStatus.KNOWN, age_at_facts=30)
    client.force_login(officer)

    client.post(
        reverse("victims:identity", args=[victim.pk]), REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 200.1.2.3"
    )
    client.post(
        reverse("cases:victims_identity", args=[case.pk]), REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="200.1.2.3"
    )

    reads = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ, actor_id=officer.pk)
    assert reads.count() == 2
    assert set(reads.values_list("ip_address", flat=True)) == {"200.1.2.3"}
