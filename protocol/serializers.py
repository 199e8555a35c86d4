"""API representations of the Protocolo de Atención (/api/v1/): activations, referrals and
humanitarian residence applications, with their timelines.

Reading: what the web shows, never an encrypted field. Who asked on the victim's behalf
(``requester_name``, ``requester_contact``) and the permit number are write-only; the referred
person's minimum data and the permit identity are read only through their audited endpoints.
A referral says nothing of the criminal case (providers read it), and an application nothing of
the case either (Sermig reads it). Writing: closed lists of fields (cases.serializers
.StrictSerializer), so unknown keys are refused by name.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cases.serializers import StrictSerializer
from cases.validators import validate_not_in_future
from protocol.constants import (
    ActivationAction,
    ReferralAction,
    ReferralState,
    RequestedBy,
    ResidenceAction,
    ResidenceState,
    ServiceType,
)
from protocol.models import (
    ProtocolActivation,
    ProtocolTransition,
    Referral,
    ReferralTransition,
    ResidenceApplication,
    ResidenceTransition,
)

NOTE_MAX = 4000

# --- writing ------------------------------------------------------------------------------------


def _note(help_text: str) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX, help_text=help_text)


class PastDateField(serializers.DateField):
    """A date that has already happened (today included), as the models require."""

    def __init__(self, **kwargs):
        super().__init__(validators=[validate_not_in_future], **kwargs)


class ActivationOpenSerializer(StrictSerializer):
    requested_by = serializers.ChoiceField(
        choices=RequestedBy.choices,
        help_text="Quién la pidió: la víctima, un tercero en su nombre o la institución que detectó el caso.",
    )
    requested_on = PastDateField(help_text="Fecha de la solicitud (no futura).")
    requester_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        write_only=True,
        help_text="Solo escritura, cifrado: nombre del tercero que pide (obligatorio si requested_by es «tercero»).",
    )
    requester_contact = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        write_only=True,
        help_text="Solo escritura, cifrado: cómo contactar al tercero.",
    )
    consent_on = PastDateField(
        required=False,
        allow_null=True,
        help_text="Fecha del consentimiento informado de la víctima, si ya lo dio (no anterior a la solicitud).",
    )
    note = _note("Observaciones de la solicitud (quedan en la línea de tiempo).")

    def validate(self, attrs):
        if attrs["requested_by"] != RequestedBy.THIRD_PARTY:
            # The service would drop them silently: a client sending them has a bug to hear about.
            errors = {
                name: [_("Solo se registra a quien solicita cuando es un tercero.")]
                for name in ("requester_name", "requester_contact")
                if attrs.get(name)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class ActivationTransitionSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=ActivationAction.choices,
        help_text="evaluar, activar (requiere el consentimiento), rechazar, desistir, cerrar o reactivar.",
    )
    note = _note("Motivo u observación; obligatorio para rechazar, desistir y cerrar.")


class ConsentSerializer(StrictSerializer):
    consent_on = PastDateField(
        help_text="Fecha del consentimiento informado de la víctima (no futura, no anterior a la solicitud)."
    )


class ReferralCreateSerializer(StrictSerializer):
    service_type = serializers.ChoiceField(choices=ServiceType.choices, help_text="El servicio al que se deriva.")
    provider = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        help_text="Id de la institución prestadora activa (GET /api/v1/institutions/).",
    )
    note = _note("Lo que la institución prestadora necesita saber para atender (sin datos de la causa).")


class ReferralTransitionSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=ReferralAction.choices,
        help_text=(
            "La institución prestadora: aceptar, rechazar, iniciar, completar; la institución que derivó: cancelar."
        ),
    )
    note = _note("Motivo u observación; obligatorio para rechazar y cancelar.")


class ResidenceDeriveSerializer(StrictSerializer):
    renews = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Para una renovación: el id de la solicitud otorgada cuyo permiso se renueva.",
    )
    note = _note("Lo que Sermig necesita saber para tramitar (sin datos de la causa).")


class ResidenceTransitionSerializer(StrictSerializer):
    action = serializers.ChoiceField(
        choices=ResidenceAction.choices,
        help_text="recibir, tramitar, otorgar (con número y vigencia del permiso) o rechazar (con el motivo).",
    )
    note = _note("Observación; para rechazar, el motivo (obligatorio).")
    permit_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        write_only=True,
        help_text="Solo escritura, cifrado: número del permiso otorgado (obligatorio para otorgar).",
    )
    valid_from = serializers.DateField(required=False, allow_null=True, help_text="Inicio de la vigencia (otorgar).")
    valid_until = serializers.DateField(
        required=False, allow_null=True, help_text="Término de la vigencia, posterior al inicio (otorgar)."
    )

    def validate(self, attrs):
        if attrs["action"] != ResidenceAction.GRANT:
            errors = {
                name: [_("Solo se indica al otorgar el permiso.")]
                for name in ("permit_number", "valid_from", "valid_until")
                if attrs.get(name)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class StrictQuerySerializer(serializers.Serializer):
    """Query parameters: an unknown or empty one is refused (DRF would ignore it, and a typo would
    silently answer the whole list), as cases.api_filters does."""

    page = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000, help_text="Página, desde 1.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500, help_text="Por página (100).")

    def to_internal_value(self, data):
        errors = {name: [_("No puede estar vacío.")] for name in self.fields if name in data and data.get(name) == ""}
        errors |= {name: [_("Parámetro desconocido.")] for name in data if name not in self.fields and name != "format"}
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class ReferralListQuerySerializer(StrictQuerySerializer):
    direction = serializers.ChoiceField(
        choices=[("incoming", "Las que su institución presta"), ("outgoing", "Las que su institución derivó")],
        default="incoming",
        help_text="incoming (por omisión): las que su institución presta; outgoing: las que derivó.",
    )
    state = serializers.ChoiceField(choices=ReferralState.choices, required=False)


class ResidenceListQuerySerializer(StrictQuerySerializer):
    state = serializers.ChoiceField(choices=ResidenceState.choices, required=False)


# --- reading ------------------------------------------------------------------------------------


class _TransitionSerializer(serializers.ModelSerializer):
    """One entry of a timeline: the first has no action (the request itself)."""

    institution = serializers.CharField(source="institution.short_name", help_text="Institución que actuó.")

    class Meta:
        fields = ["action", "from_state", "to_state", "institution", "at", "note"]


class ActivationTransitionReadSerializer(_TransitionSerializer):
    class Meta(_TransitionSerializer.Meta):
        model = ProtocolTransition


class ReferralTransitionReadSerializer(_TransitionSerializer):
    class Meta(_TransitionSerializer.Meta):
        model = ReferralTransition


class ResidenceTransitionReadSerializer(_TransitionSerializer):
    class Meta(_TransitionSerializer.Meta):
        model = ResidenceTransition


class ActivationSerializer(serializers.ModelSerializer):
    victim = serializers.UUIDField(source="victim_id", read_only=True)
    victim_code = serializers.CharField(source="victim.code", help_text="Código seudónimo de la víctima.")
    institution = serializers.CharField(source="institution.short_name", help_text="Institución que activó.")
    consent_recorded = serializers.SerializerMethodField(help_text="Si ya se registró el consentimiento informado.")
    transitions = ActivationTransitionReadSerializer(many=True, read_only=True, help_text="Línea de tiempo.")

    class Meta:
        model = ProtocolActivation
        fields = [
            "id", "victim", "victim_code", "institution", "requested_by", "requested_on", "consent_on",
            "consent_recorded", "state", "state_changed_at", "outcome_reason", "version", "created_at", "updated_at",
            "transitions",
        ]  # fmt: skip

    def get_consent_recorded(self, activation: ProtocolActivation) -> bool:
        return activation.consent_recorded_at is not None


class ReferralSerializer(serializers.ModelSerializer):
    """What the referring institution and the provider both read: the service, who owes the next
    step and by when, and the dates. Not the case, not the person's identity."""

    activation = serializers.UUIDField(source="activation_id", read_only=True)
    victim_code = serializers.CharField(source="activation.victim.code", help_text="Código seudónimo de la persona.")
    referred_by = serializers.CharField(
        source="activation.institution.short_name", help_text="Institución que derivó (la que activó el protocolo)."
    )
    provider = serializers.IntegerField(source="provider_id", read_only=True)
    provider_name = serializers.CharField(source="provider.short_name", help_text="Institución prestadora.")
    is_overdue = serializers.SerializerMethodField(
        help_text="Pendiente de respuesta y con el plazo vencido (la prestadora debe responder)."
    )
    transitions = ReferralTransitionReadSerializer(many=True, read_only=True, help_text="Línea de tiempo.")

    class Meta:
        model = Referral
        fields = [
            "id", "activation", "victim_code", "referred_by", "service_type", "provider", "provider_name", "state",
            "is_overdue", "requested_at", "response_due_at", "accepted_at", "first_delivered_at", "closed_at", "note",
            "outcome_reason", "version", "transitions",
        ]  # fmt: skip

    def get_is_overdue(self, referral: Referral) -> bool:
        return referral.state == ReferralState.PENDING and referral.response_due_at < timezone.now()


class ReferralSummarySerializer(ReferralSerializer):
    """A referral in a list: without its timeline."""

    class Meta(ReferralSerializer.Meta):
        fields = [name for name in ReferralSerializer.Meta.fields if name != "transitions"]


class ResidenceApplicationSerializer(serializers.ModelSerializer):
    """Sermig's view of an application, and the deriving institution's: no case facts, and the
    permit number never (encrypted; it is read with the identity)."""

    victim = serializers.UUIDField(source="victim_id", read_only=True)
    victim_code = serializers.CharField(source="victim.code", help_text="Código seudónimo de la persona.")
    derived_by = serializers.CharField(
        source="derived_by_institution.short_name", help_text="Institución que derivó a Sermig."
    )
    renews = serializers.UUIDField(source="renews_id", read_only=True, allow_null=True)
    transitions = ResidenceTransitionReadSerializer(many=True, read_only=True, help_text="Historia de la solicitud.")

    class Meta:
        model = ResidenceApplication
        fields = [
            "id", "victim", "victim_code", "derived_by", "renews", "state", "derived_at", "received_at",
            "decided_at", "valid_from", "valid_until", "rejection_reason", "note", "version", "transitions",
        ]  # fmt: skip


class ResidenceApplicationSummarySerializer(ResidenceApplicationSerializer):
    """An application in a list: without its history."""

    class Meta(ResidenceApplicationSerializer.Meta):
        fields = [name for name in ResidenceApplicationSerializer.Meta.fields if name != "transitions"]


class ProviderMinimumDataSerializer(serializers.Serializer):
    """protocol.referrals.referral_victim_for_provider: what a provider needs, nothing more."""

    code = serializers.CharField()
    given_names = serializers.CharField(allow_null=True)
    surnames = serializers.CharField(allow_null=True)
    document_type = serializers.CharField(allow_null=True)
    document_number = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    sex = serializers.CharField()
    birth_year = serializers.IntegerField(allow_null=True)
    age_at_identification = serializers.IntegerField(allow_null=True)


class PermitIdentitySerializer(serializers.Serializer):
    """protocol.residence.residence_identity_reveal: what a permit needs of the person."""

    given_names = serializers.CharField(allow_null=True)
    surnames = serializers.CharField(allow_null=True)
    document_type = serializers.CharField(allow_null=True)
    document_number = serializers.CharField(allow_null=True)
    birth_date = serializers.DateField(allow_null=True)
    nationality = serializers.CharField(help_text="ISO 3166-1 alfa-2; vacío: sin información.")
