"""Adversarial review of the protocol screens (commit f58111f): each test reproduces one finding
against the real database and asserts the correct behaviour, so it fails while the bug is there.
"""

from __future__ import annotations

import datetime
import re
import threading
import uuid

import pytest
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from cases.sharing import case_share, case_unshare
from institutions.constants import InstitutionKind
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.constants import ActivationAction, ActivationState, ReferralState, RequestedBy, ServiceType
from protocol.models import Notification, ProtocolActivation, Referral, ReferralTransition, ResidenceApplication
from protocol.notifications import notification_mail_send
from protocol.referrals import referral_create
from protocol.services import activation_open, activation_transition
from tests.clients import VerifiedClient
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from tests.protocol.referral_helpers import ensure_service_deadlines
from victims.models import CaseVictim, Victim

SECRET_NAME, SECRET_SURNAME = "Yolanda", "Quispe-Secreta"


def signed_in(user) -> VerifiedClient:
    client = VerifiedClient()
    client.force_login(user)
    return client


def without_csrf(content: bytes) -> bytes:
    """A page's bytes without its CSRF token (masked afresh on every response)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def assert_hidden(client, method: str, route: str, referral_id):
    """``method`` on ``route`` for the referral answers 404, byte for byte the page of a referral
    that does not exist, and reads no identity. Returns the response."""
    reads = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).count()
    send = client.post if method == "POST" else client.get
    response = send(reverse(route, args=[referral_id]))
    ghost = send(reverse(route, args=[uuid.uuid4()]))
    assert response.status_code == ghost.status_code == 404
    assert without_csrf(response.content) == without_csrf(ghost.content)
    assert AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).count() == reads
    return response


def _world():
    ensure_service_deadlines()
    lead = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    shelter = InstitutionFactory(short_name="SERNAMEG", name="Servicio Nacional de la Mujer")
    sermig = InstitutionFactory(short_name="SERMIG", name="Servicio Nacional de Migraciones")
    sermig.kind = InstitutionKind.MIGRATION
    sermig.save()
    mitp = InstitutionFactory(short_name="SPD", name="Subsecretaría de Prevención del Delito")
    officer = UserFactory(username="oficial.pdi", institution=lead, email="oficial@pdi.cl")
    case = CaseFactory(lead_institution=lead)
    victim = VictimFactory(registering_institution=lead, given_names=SECRET_NAME, surnames=SECRET_SURNAME)
    CaseVictim.objects.create(case=case, victim=victim)
    return {
        "lead": lead,
        "officer": officer,
        "shelter": shelter,
        "shelter_officer": UserFactory(username="oficial.sernameg", institution=shelter, email="o@sernameg.cl"),
        "sermig_officer": UserFactory(
            username="oficial.sermig", institution=sermig, is_sermig_officer=True, email="o@sermig.cl"
        ),
        "mitp": mitp,
        "secretariat": UserFactory(username="secretaria.mitp", institution=mitp, is_mitp_secretariat=True),
        "case": case,
        "victim": victim,
    }


@pytest.fixture
def world(db):
    return _world()


def _active_activation(world) -> ProtocolActivation:
    officer, victim = world["officer"], world["victim"]
    today = timezone.localdate()
    activation = activation_open(
        actor=officer, victim_id=victim.pk, requested_by=RequestedBy.VICTIM, requested_on=today, consent_on=today
    )
    activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    return activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.ACTIVATE)


def _grantee_refers_then_loses_the_victim(world):
    """A grantee with *ver identidad* (legal basis) activates the protocol, refers the victim to
    a shelter, and then the lead revokes its share: the grantee no longer sees the victim."""
    grantee = InstitutionFactory(short_name="SENAME", name="Servicio de Protección")
    grantee_officer = UserFactory(username="oficial.grantee", institution=grantee)
    share = case_share(
        actor=world["officer"],
        case_id=world["case"].pk,
        institution=grantee,
        reason="Protección",
        can_view_identity=True,
        legal_basis="Ley 21.302 art. 4",
    )
    today = timezone.localdate()
    activation = activation_open(
        actor=grantee_officer,
        victim_id=world["victim"].pk,
        requested_by=RequestedBy.VICTIM,
        requested_on=today,
        consent_on=today,
    )
    activation_transition(actor=grantee_officer, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    activation_transition(actor=grantee_officer, activation_id=activation.pk, action=ActivationAction.ACTIVATE)
    referral = referral_create(
        actor=grantee_officer,
        activation_id=activation.pk,
        service_type=ServiceType.SHELTER,
        provider_id=world["shelter"].pk,
    )
    case_unshare(actor=world["officer"], share_id=share.pk, reason="Fin de la colaboración")
    # The grantee has lost the victim, the activation and the referral (by design: 404).
    assert signed_in(grantee_officer).get(reverse("protocol:referral_detail", args=[referral.pk])).status_code == 404
    return grantee_officer, activation, referral


# --- F1 (high): the provider keeps the person's identity after the referrer lost its grant -------


def test_provider_stops_reading_the_person_once_the_referring_institution_loses_the_victim(world):
    _grantee, _activation, referral = _grantee_refers_then_loses_the_victim(world)
    # Then: 200 with the name and document, indefinitely; nobody on the referring side could even
    # see the referral to cancel it. Now the lost access cancels it, and a closed referral is no
    # longer the provider's: 404, as if it did not exist.
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.CANCELLED
    shelter = signed_in(world["shelter_officer"])
    response = assert_hidden(shelter, "POST", "protocol:referral_person", referral.pk)
    assert SECRET_SURNAME not in response.content.decode()
    assert_hidden(shelter, "GET", "protocol:referral_detail", referral.pk)


# --- F2 (medium): an open activation nobody can manage blocks the victim's protocol -------------


def test_a_victim_is_not_left_with_an_open_activation_that_no_institution_can_manage(world):
    grantee_officer, _activation, _referral = _grantee_refers_then_loses_the_victim(world)
    lead = signed_in(world["officer"])
    today = timezone.localdate().isoformat()
    opened = lead.post(
        reverse("protocol:activation_open", args=[world["victim"].pk]),
        {"requested_by": RequestedBy.VICTIM, "requested_on": today},
    )
    grantee_still_manages = (
        signed_in(grantee_officer).get(reverse("protocol:victim_protocol", args=[world["victim"].pk])).status_code
        == 200
    )
    # Today: the lead is refused ("ya tiene una activación en curso") and the grantee gets 404:
    # the activation stays activa forever, and no one can close it or refer the victim again.
    assert opened.status_code == 302 or grantee_still_manages, opened.status_code


# --- F3 (medium): residence applications outlive the deriving institution's sight of the victim ---


def test_residence_application_is_hidden_once_the_deriving_institution_loses_the_victim(world):
    share = case_share(
        actor=world["officer"], case_id=world["case"].pk, institution=world["mitp"], reason="Derivación MITP"
    )
    secretariat = signed_in(world["secretariat"])
    derived = secretariat.post(reverse("protocol:residence_derive", args=[world["victim"].pk]), {"note": ""})
    assert derived.status_code == 302
    application = ResidenceApplication.objects.get()
    case_unshare(actor=world["officer"], share_id=share.pk, reason="Fin de la colaboración")
    assert secretariat.get(reverse("victims:detail", args=[world["victim"].pk])).status_code == 404

    # Today: 200, with the victim's code, sex, nationality, Sermig's decisions and the validity.
    assert secretariat.get(reverse("protocol:residence_detail", args=[application.pk])).status_code == 404
    assert world["victim"].code not in secretariat.get(reverse("protocol:residence_queue")).content.decode()


# --- F4 (medium): the new-person form registers the same person twice (two open activations) ------


def test_registering_the_same_person_twice_without_a_case_is_refused(world):
    data = {
        "given_names": "Ana",
        "surnames": "Pérez",
        "sex": "femenino",
        "document_type": "pasaporte",
        "document_number": "AB123456",
        "requested_by": RequestedBy.VICTIM,
        "requested_on": timezone.localdate().isoformat(),
    }
    officer = signed_in(world["officer"])
    assert officer.post(reverse("protocol:new_person"), data).status_code == 302
    replay = officer.post(reverse("protocol:new_person"), data)  # a double submit, or a second officer
    # Today: 302 again: a second Victim with the same passport, and a second open activation for
    # the one person (the one-open-activation rule and the protocol statistics both broken).
    assert replay.status_code == 400
    assert Victim.objects.filter(registering_institution=world["lead"], case_links__isnull=True).count() == 1
    assert ProtocolActivation.objects.filter(state=ActivationState.REQUESTED).count() == 1


# --- F5 (low/medium): the protocol's closing reason reaches the provider -------------------------


def test_the_provider_does_not_read_why_the_referring_institution_closed_the_protocol(world):
    activation = _active_activation(world)
    referral = referral_create(
        actor=world["officer"],
        activation_id=activation.pk,
        service_type=ServiceType.SHELTER,
        provider_id=world["shelter"].pk,
    )
    activation_transition(
        actor=world["officer"],
        activation_id=activation.pk,
        action=ActivationAction.CLOSE,
        note="El imputado Juan Pérez volvió a amenazarla en Iquique",
    )
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.CANCELLED
    # Then: the reason was copied into the referral's outcome_reason and timeline («Motivo»).
    # The cancelled referral is no longer the provider's (404), and the reason is not on it
    # either, for whoever still sees the referral.
    shelter = signed_in(world["shelter_officer"])
    page = assert_hidden(shelter, "GET", "protocol:referral_detail", referral.pk)
    assert "Juan Pérez" not in page.content.decode()
    inbox = shelter.get(reverse("protocol:referral_inbox"))
    assert inbox.status_code == 200
    assert "Juan Pérez" not in inbox.content.decode()
    assert str(referral.pk) not in inbox.content.decode()
    assert "Juan Pérez" not in Referral.objects.get(pk=referral.pk).outcome_reason
    assert not ReferralTransition.objects.filter(referral=referral, note__contains="Juan Pérez").exists()
    referrer_page = signed_in(world["officer"]).get(reverse("protocol:referral_detail", args=[referral.pk]))
    assert referrer_page.status_code == 200
    assert "Juan Pérez" not in referrer_page.content.decode()


# --- F6 (low): a replayed consent form rewrites the consent record of an active protocol ---------


def test_recorded_consent_is_not_silently_rewritten(world):
    officer, victim = world["officer"], world["victim"]
    ten_days_ago = timezone.localdate() - datetime.timedelta(days=10)
    activation = activation_open(
        actor=officer,
        victim_id=victim.pk,
        requested_by=RequestedBy.VICTIM,
        requested_on=ten_days_ago,
        consent_on=ten_days_ago,
    )
    activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.ACTIVATE)
    before = ProtocolActivation.objects.get(pk=activation.pk)
    colleague = UserFactory(username="otra.oficial.pdi", institution=world["lead"])
    response = signed_in(colleague).post(
        reverse("protocol:activation_consent", args=[activation.pk]),
        {"consent_on": (ten_days_ago + datetime.timedelta(days=5)).isoformat()},
    )
    after = ProtocolActivation.objects.get(pk=activation.pk)
    # Today: 302; consent_on, consent_recorded_by and _at replaced, with no version check and no
    # trace on the timeline: the record an active protocol rests on is lost.
    assert response.status_code == 409
    assert (after.consent_on, after.consent_recorded_by_id, after.version) == (
        before.consent_on,
        before.consent_recorded_by_id,
        before.version,
    )


# --- F7 (low): a NUL byte in «Derivar a Sermig» is a 500 -----------------------------------------


def test_derive_to_sermig_with_a_nul_byte_is_a_field_error_not_a_500(world):
    client = signed_in(world["officer"])
    client.raise_request_exception = False
    response = client.post(reverse("protocol:residence_derive", args=[world["victim"].pk]), {"note": "a\x00b"})
    assert response.status_code == 400, response.status_code  # today: 500 (psycopg DataError)
    assert not ResidenceApplication.objects.exists()


# --- F8 (low): a notice whose row is locked at that moment is never e-mailed ----------------------


@pytest.mark.django_db(transaction=True)
def test_a_notice_locked_by_mark_all_read_is_still_mailed(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory(username="oficial.x", institution=InstitutionFactory(short_name="X"), email="o@x.cl")
    notice = Notification.objects.create(recipient=user, subject="MITP: derivación atrasada", message="m")
    locked, release = threading.Event(), threading.Event()

    def mark_all_read_meanwhile():  # what notifications_mark_read's UPDATE does, held a moment
        try:
            with transaction.atomic():
                Notification.objects.filter(pk=notice.pk).update(read_at=timezone.now())
                locked.set()
                release.wait(5)
        finally:
            connection.close()

    thread = threading.Thread(target=mark_all_read_meanwhile)
    thread.start()
    assert locked.wait(5)
    threading.Timer(0.5, release.set).start()
    try:
        sent = notification_mail_send(notification_ids=[notice.pk])
    finally:
        release.set()
        thread.join()
    notice.refresh_from_db()
    # Today: (0, 0, None): skip_locked skips the row, the task ends successfully, and nothing ever
    # mails that notice.
    assert (sent, len(mail.outbox), notice.mailed_at is not None) == (1, 1, True)


# --- fixes beyond the findings' own tests ------------------------------------------------------


def test_the_same_referral_twice_is_refused_on_the_provider_field_and_the_index_backs_it(world):
    from django.db import IntegrityError

    from protocol.referrals import referral_transition

    activation = _active_activation(world)
    officer = signed_in(world["officer"])
    data = {"service_type": ServiceType.SHELTER, "provider": world["shelter"].pk}
    assert officer.post(reverse("protocol:referral_create", args=[activation.pk]), data).status_code == 302
    again = officer.post(reverse("protocol:referral_create", args=[activation.pk]), data)
    assert again.status_code == 400 and "Ya hay una derivación abierta" in again.content.decode()
    assert Referral.objects.count() == 1
    first = Referral.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            activation=first.activation,
            service_type=first.service_type,
            provider=first.provider,
            referred_by=first.referred_by,
            requested_at=first.requested_at,
            response_due_at=first.response_due_at,
        )
    # Once the first is closed, the same service may be asked for again.
    referral_transition(actor=world["officer"], referral_id=first.pk, action="cancelar", note="Otra casa")
    assert officer.post(reverse("protocol:referral_create", args=[activation.pk]), data).status_code == 302


def test_the_permit_identity_is_read_while_issuing_the_permit_not_years_later(world):
    from protocol.residence import PERMIT_ISSUE_DAYS, residence_derive, residence_identity_reveal, residence_transition

    application = residence_derive(actor=world["officer"], victim_id=world["victim"].pk)
    sermig = world["sermig_officer"]
    for action in ("recibir", "tramitar"):
        residence_transition(actor=sermig, application_id=application.pk, action=action)
    today = timezone.localdate()
    residence_transition(
        actor=sermig,
        application_id=application.pk,
        action="otorgar",
        permit_number="P-1",
        valid_from=today,
        valid_until=today + datetime.timedelta(days=365),
    )
    assert residence_identity_reveal(user=sermig, application_id=application.pk)["given_names"] == SECRET_NAME
    ResidenceApplication.objects.filter(pk=application.pk).update(
        decided_at=timezone.now() - datetime.timedelta(days=PERMIT_ISSUE_DAYS + 1)
    )
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        residence_identity_reveal(user=sermig, application_id=application.pk)


def test_revoking_a_share_of_a_victim_with_no_case_ends_the_grantees_open_activation(db):
    from victims.sharing import victim_share, victim_unshare

    ensure_service_deadlines()
    registering = InstitutionFactory(short_name="ONG", name="ONG Raíces")
    grantee = InstitutionFactory(short_name="OPD", name="Oficina de protección")
    shelter = InstitutionFactory(short_name="CASA", name="Casa de acogida")
    owner = UserFactory(institution=registering)
    grantee_officer = UserFactory(institution=grantee)
    shelter_officer = UserFactory(institution=shelter)
    victim = VictimFactory(registering_institution=registering)
    share = victim_share(
        actor=owner,
        victim_id=victim.pk,
        institution=grantee,
        reason="Atención psicosocial",
        can_view_identity=True,
        legal_basis="Ley 21.057, art. 5",
    )
    today = timezone.localdate()
    activation = activation_open(
        actor=grantee_officer,
        victim_id=victim.pk,
        requested_by=RequestedBy.VICTIM,
        requested_on=today,
        consent_on=today,
    )
    for action in (ActivationAction.EVALUATE, ActivationAction.ACTIVATE):
        activation_transition(actor=grantee_officer, activation_id=activation.pk, action=action)
    referral = referral_create(
        actor=grantee_officer, activation_id=activation.pk, service_type=ServiceType.SHELTER, provider_id=shelter.pk
    )
    assert signed_in(shelter_officer).post(reverse("protocol:referral_person", args=[referral.pk])).status_code == 200

    victim_unshare(actor=owner, victim_id=victim.pk, share_id=share.pk, reason="Termina la coordinación")

    activation.refresh_from_db()
    referral.refresh_from_db()
    assert activation.state == ActivationState.CLOSED and "perdió el acceso" in activation.outcome_reason
    assert referral.state == ReferralState.CANCELLED
    # The cancelled referral is no longer the provider's: 404, as if it did not exist.
    assert_hidden(signed_in(shelter_officer), "POST", "protocol:referral_person", referral.pk)
    # The registering institution may ask for the protocol again.
    activation_open(actor=owner, victim_id=victim.pk, requested_by=RequestedBy.VICTIM, requested_on=today)
