"""The protocol's pages through the web client: the whole walk (ask, consent, evaluate, activate,
refer, the provider answers from its bandeja, derive to Sermig, Sermig decides), every form's
field-level errors with nothing saved, stale versions, the audited identity pages, what each
page leaves out (case facts for providers and Sermig; identity everywhere), and notifications.

Who may reach each route is the access matrix's (tests/access/test_protocol_matrix.py); this
module checks what the pages do and say."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from institutions.constants import InstitutionKind, Role
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.constants import ActivationState, ReferralState, ResidenceState, ServiceType
from protocol.models import Notification, ProtocolActivation, Referral, ResidenceApplication
from protocol.referrals import overdue_referrals_notify
from tests.clients import VerifiedClient
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from tests.protocol.referral_helpers import ensure_service_deadlines
from victims.models import CaseVictim, Victim

pytestmark = pytest.mark.django_db

SECRET_NAME, SECRET_SURNAME, SECRET_PERMIT = "Yolanda", "Quispe-Secreta", "PERMISO-9911"


def signed_in(user) -> VerifiedClient:
    client = VerifiedClient()
    client.force_login(user)
    return client


@pytest.fixture
def world(db):
    ensure_service_deadlines()
    lead = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    shelter = InstitutionFactory(short_name="SERNAMEG", name="Servicio Nacional de la Mujer")
    sermig = InstitutionFactory(short_name="SERMIG", name="Servicio Nacional de Migraciones")
    sermig.kind = InstitutionKind.MIGRATION
    sermig.save()
    officer = UserFactory(username="oficial.pdi", institution=lead, email="oficial@pdi.cl")
    case = CaseFactory(lead_institution=lead)
    victim = VictimFactory(registering_institution=lead, given_names=SECRET_NAME, surnames=SECRET_SURNAME)
    CaseVictim.objects.create(case=case, victim=victim)
    return {
        "lead": lead,
        "officer": officer,
        "reader": UserFactory(username="lector.pdi", institution=lead, role=Role.READER),
        "shelter": shelter,
        "shelter_officer": UserFactory(username="oficial.sernameg", institution=shelter, email="o@sernameg.cl"),
        "sermig_officer": UserFactory(
            username="oficial.sermig", institution=sermig, is_sermig_officer=True, email="o@sermig.cl"
        ),
        "case": case,
        "victim": victim,
    }


def post(client, route: str, args, data: dict, *, status: int | None = None):
    response = client.post(reverse(route, args=args), data)
    if status is not None:
        assert response.status_code == status, (route, response.status_code, _errors(response))
    return response


def _errors(response) -> str:
    return " ".join(re.findall(r'class="field-error"[^>]*>([^<]+)<', response.content.decode()))


def activation_of(victim) -> ProtocolActivation:
    return ProtocolActivation.objects.get(victim=victim)


def test_the_whole_walk_through_the_pages(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()

    page = officer.get(reverse("protocol:victim_protocol", args=[victim.pk]))
    assert page.status_code == 200 and "Solicitar el ingreso al Protocolo de Atención" in page.content.decode()
    assert SECRET_NAME not in page.content.decode()

    post(
        officer, "protocol:activation_open", [victim.pk], {"requested_by": "victima", "requested_on": today}, status=302
    )
    activation = activation_of(victim)
    assert activation.state == ActivationState.REQUESTED

    def move(action, note="", expect=302):
        current = ProtocolActivation.objects.get(pk=activation.pk)
        data = {"action": action, "version": current.version, "note": note}
        return post(officer, "protocol:activation_transition", [activation.pk], data, status=expect)

    move("evaluar")
    # Activating without the consent recorded: refused on its field, nothing moves.
    refused = move("activar", expect=400)
    assert "consentimiento informado" in refused.content.decode()
    assert ProtocolActivation.objects.get(pk=activation.pk).state == ActivationState.EVALUATING
    post(officer, "protocol:activation_consent", [activation.pk], {"consent_on": today}, status=302)
    move("activar")
    assert ProtocolActivation.objects.get(pk=activation.pk).state == ActivationState.ACTIVE

    page = officer.get(reverse("protocol:victim_protocol", args=[victim.pk])).content.decode()
    assert "Derivar a un servicio" in page and "Iniciar la evaluación" in page  # the timeline names each move

    post(
        officer,
        "protocol:referral_create",
        [activation.pk],
        {"service_type": ServiceType.SHELTER, "provider": world["shelter"].pk, "note": "Necesita cupo hoy"},
        status=302,
    )
    referral = Referral.objects.get(activation=activation)
    assert referral.response_due_at - referral.requested_at == datetime.timedelta(hours=24)

    # The provider works it from its bandeja.
    provider = signed_in(world["shelter_officer"])
    inbox = provider.get(reverse("protocol:referral_inbox")).content.decode()
    assert victim.code in inbox and "Casa de acogida" in inbox and SECRET_NAME not in inbox
    detail = provider.get(reverse("protocol:referral_detail", args=[referral.pk])).content.decode()
    assert "Ver datos de la persona" in detail and SECRET_NAME not in detail
    assert world["case"].ruc not in detail and world["case"].ruc not in inbox  # no case facts
    person = post(provider, "protocol:referral_person", [referral.pk], {}, status=200).content.decode()
    assert SECRET_NAME in person and SECRET_SURNAME in person
    assert AccessEvent.objects.filter(
        action=AccessAction.IDENTITY_READ, actor_id=world["shelter_officer"].pk, details__referral=str(referral.pk)
    ).exists()
    for action in ("aceptar", "iniciar", "completar"):
        version = Referral.objects.get(pk=referral.pk).version
        moved = post(
            provider, "protocol:referral_transition", [referral.pk], {"action": action, "version": version}, status=302
        )
    assert moved["Location"] == reverse("protocol:referral_inbox")  # closed: back to the bandeja
    referral.refresh_from_db()
    assert referral.state == ReferralState.COMPLETED
    assert referral.accepted_at and referral.first_delivered_at and referral.closed_at
    # Closed: the referral and the person's data are no longer the provider's (404, as for none).
    assert post(provider, "protocol:referral_person", [referral.pk], {}).status_code == 404
    assert provider.get(reverse("protocol:referral_detail", args=[referral.pk])).status_code == 404
    assert victim.code not in provider.get(reverse("protocol:referral_inbox")).content.decode()
    # The referring institution still follows it.
    assert "Completada" in officer.get(reverse("protocol:referral_detail", args=[referral.pk])).content.decode()

    # Derive to Sermig; Sermig receives, processes and grants.
    post(officer, "protocol:residence_derive", [victim.pk], {"note": "Sin documentos vigentes"}, status=302)
    application = ResidenceApplication.objects.get(victim=victim)
    sermig = signed_in(world["sermig_officer"])
    queue = sermig.get(reverse("protocol:residence_queue")).content.decode()
    assert "Cola de residencia humanitaria" in queue and victim.code in queue and SECRET_NAME not in queue
    for action in ("recibir", "tramitar"):
        version = ResidenceApplication.objects.get(pk=application.pk).version
        post(
            sermig,
            "protocol:residence_transition",
            [application.pk],
            {"action": action, "version": version},
            status=302,
        )
    version = ResidenceApplication.objects.get(pk=application.pk).version
    grant = {
        "action": "otorgar",
        "version": version,
        "permit_number": SECRET_PERMIT,
        "valid_from": today,
        "valid_until": (timezone.localdate() + datetime.timedelta(days=365)).isoformat(),
    }
    post(sermig, "protocol:residence_transition", [application.pk], grant, status=302)
    application.refresh_from_db()
    assert application.state == ResidenceState.GRANTED and application.permit_number == SECRET_PERMIT
    detail = sermig.get(reverse("protocol:residence_detail", args=[application.pk])).content.decode()
    assert SECRET_PERMIT not in detail and SECRET_NAME not in detail
    assert "Necesita cupo hoy" not in detail, "Sermig does not see the referrals"
    assert world["case"].ruc not in detail and world["case"].ruc not in queue
    identity = post(sermig, "protocol:residence_identity", [application.pk], {}, status=200).content.decode()
    assert SECRET_NAME in identity

    # The lead's page lists the granted application, never the permit number.
    page = officer.get(reverse("protocol:victim_protocol", args=[victim.pk])).content.decode()
    assert "Otorgada" in page and SECRET_PERMIT not in page


def test_the_request_form_shows_each_error_on_its_field_and_saves_nothing(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    response = post(
        officer, "protocol:activation_open", [victim.pk], {"requested_by": "tercero", "requested_on": tomorrow}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_requested_on_error"' in body and 'aria-invalid="true"' in body
    assert not ProtocolActivation.objects.exists()
    # A third party without a name: the model's rule, on its field.
    today = timezone.localdate().isoformat()
    response = post(
        officer, "protocol:activation_open", [victim.pk], {"requested_by": "tercero", "requested_on": today}
    )
    assert response.status_code == 400 and "id_requester_name_error" in response.content.decode()
    assert not ProtocolActivation.objects.exists()


def test_a_stale_version_is_refused_with_a_conflict_and_moves_nothing(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()
    post(
        officer, "protocol:activation_open", [victim.pk], {"requested_by": "victima", "requested_on": today}, status=302
    )
    activation = activation_of(victim)
    post(officer, "protocol:activation_transition", [activation.pk], {"action": "evaluar", "version": 1}, status=302)
    stale = post(
        officer, "protocol:activation_transition", [activation.pk], {"action": "rechazar", "version": 1, "note": "x"}
    )
    assert stale.status_code == 409 and "Otra persona cambió esta activación" in stale.content.decode()
    assert activation_of(victim).state == ActivationState.EVALUATING
    missing = post(officer, "protocol:activation_transition", [activation.pk], {"action": "rechazar", "note": "x"})
    assert missing.status_code == 400 and activation_of(victim).state == ActivationState.EVALUATING


def test_an_illegal_move_says_why(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()
    post(
        officer, "protocol:activation_open", [victim.pk], {"requested_by": "victima", "requested_on": today}, status=302
    )
    activation = activation_of(victim)
    response = post(
        officer, "protocol:activation_transition", [activation.pk], {"action": "cerrar", "version": 1, "note": "x"}
    )
    assert response.status_code == 409
    assert "No se puede «cerrar el protocolo» una activación que está «solicitada»" in response.content.decode()


def test_a_reason_is_required_where_the_move_needs_one(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()
    post(
        officer, "protocol:activation_open", [victim.pk], {"requested_by": "victima", "requested_on": today}, status=302
    )
    activation = activation_of(victim)
    response = post(officer, "protocol:activation_transition", [activation.pk], {"action": "rechazar", "version": 1})
    assert response.status_code == 400 and "Indique el motivo" in response.content.decode()
    assert activation_of(victim).state == ActivationState.REQUESTED


def test_a_grant_without_permit_data_shows_field_errors_and_grants_nothing(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    post(officer, "protocol:residence_derive", [victim.pk], {}, status=302)
    application = ResidenceApplication.objects.get(victim=victim)
    sermig = signed_in(world["sermig_officer"])
    for action in ("recibir", "tramitar"):
        version = ResidenceApplication.objects.get(pk=application.pk).version
        post(
            sermig,
            "protocol:residence_transition",
            [application.pk],
            {"action": action, "version": version},
            status=302,
        )
    version = ResidenceApplication.objects.get(pk=application.pk).version
    today = timezone.localdate().isoformat()
    response = post(
        sermig,
        "protocol:residence_transition",
        [application.pk],
        {"action": "otorgar", "version": version, "valid_from": today, "valid_until": today},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "id_permit_number_error" in body and "id_valid_until_error" in body
    assert ResidenceApplication.objects.get(pk=application.pk).state == ResidenceState.PROCESSING


def test_a_person_with_no_case_is_registered_with_the_request_in_one_step(world):
    officer = signed_in(world["officer"])
    assert officer.get(reverse("protocol:new_person")).status_code == 200
    today = timezone.localdate().isoformat()
    refused = officer.post(reverse("protocol:new_person"), {"given_names": "Ana", "sex": "femenino"})
    assert refused.status_code == 400 and "id_requested_on_error" in refused.content.decode()
    wrong_document = {
        "given_names": "Ana",
        "sex": "femenino",
        "document_type": "run",
        "document_number": "12.345.678-0",  # wrong check digit: the service refuses it
        "requested_by": "victima",
        "requested_on": today,
    }
    refused = officer.post(reverse("protocol:new_person"), wrong_document)
    assert refused.status_code == 400 and "id_document_number_error" in refused.content.decode()
    assert Victim.objects.filter(registering_institution=world["lead"]).count() == 1  # only the world's
    assert not ProtocolActivation.objects.exists()
    done = officer.post(
        reverse("protocol:new_person"),
        {
            "given_names": "Ana",
            "surnames": "Sin Causa",
            "sex": "femenino",
            "requested_by": "victima",
            "requested_on": today,
        },
    )
    assert done.status_code == 302
    activation = ProtocolActivation.objects.get()
    assert activation.victim.given_names == "Ana"
    assert not CaseVictim.objects.filter(victim=activation.victim).exists()
    assert activation.victim.registering_institution == world["lead"]
    listing = officer.get(reverse("protocol:activations")).content.decode()
    assert activation.victim.code in listing


def test_the_requester_is_revealed_only_by_an_audited_post_of_the_activating_institution(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()
    data = {
        "requested_by": "tercero",
        "requested_on": today,
        "requester_name": "Tía Rosa",
        "requester_contact": "+56 9 1234 5678",
    }
    post(officer, "protocol:activation_open", [victim.pk], data, status=302)
    activation = activation_of(victim)
    page = officer.get(reverse("protocol:victim_protocol", args=[victim.pk])).content.decode()
    assert "Tía Rosa" not in page and "Mostrar quién lo solicitó" in page
    before = AccessEvent.objects.count()
    shown = post(officer, "protocol:activation_requester", [activation.pk], {}, status=200).content.decode()
    assert "Tía Rosa" in shown and "+56 9 1234 5678" in shown
    assert AccessEvent.objects.count() == before + 1
    assert AccessEvent.objects.latest("id").details["activation"] == str(activation.pk)
    # A reader of the same institution may read it; the provider or Sermig never (404: not theirs).
    assert post(signed_in(world["reader"]), "protocol:activation_requester", [activation.pk], {}).status_code == 200
    assert (
        post(signed_in(world["shelter_officer"]), "protocol:activation_requester", [activation.pk], {}).status_code
        == 404
    )


def test_a_reader_sees_the_page_without_any_action(world):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()
    post(
        officer,
        "protocol:activation_open",
        [victim.pk],
        {"requested_by": "victima", "requested_on": today, "consent_on": today},
        status=302,
    )
    page = signed_in(world["reader"]).get(reverse("protocol:victim_protocol", args=[victim.pk])).content.decode()
    assert "Solicitada" in page
    assert 'name="action"' not in page and "Solicitar el ingreso" not in page and "Derivar a Sermig" not in page


def test_notifications_list_the_users_own_notices_and_mark_them_read(world, django_capture_on_commit_callbacks):
    officer, victim = signed_in(world["officer"]), world["victim"]
    today = timezone.localdate().isoformat()
    post(
        officer,
        "protocol:activation_open",
        [victim.pk],
        {"requested_by": "victima", "requested_on": today, "consent_on": today},
        status=302,
    )
    activation = activation_of(victim)
    for action in ("evaluar", "activar"):
        version = activation_of(victim).version
        post(
            officer,
            "protocol:activation_transition",
            [activation.pk],
            {"action": action, "version": version},
            status=302,
        )
    post(
        officer,
        "protocol:referral_create",
        [activation.pk],
        {"service_type": ServiceType.SHELTER, "provider": world["shelter"].pk},
        status=302,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_referrals_notify(now=timezone.now() + datetime.timedelta(hours=25)) == 1
    provider = signed_in(world["shelter_officer"])
    home = provider.get(reverse("home")).content.decode()
    assert "Notificaciones (1 sin leer)" in home
    listing = provider.get(reverse("protocol:notifications")).content.decode()
    assert "Derivación atrasada" in listing and SECRET_NAME not in listing
    assert "Derivación atrasada" not in officer.get(reverse("protocol:notifications")).content.decode()
    provider.post(reverse("protocol:notifications"))
    assert not Notification.objects.filter(recipient=world["shelter_officer"], read_at__isnull=True).exists()
    assert "sin leer" not in provider.get(reverse("home")).content.decode()
