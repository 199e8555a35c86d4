"""API representations of cases and the people in them (/api/v1/).

Reading: pseudonymous codes and statistics fields only; identity is never part of a
representation (it is read through the audited identity endpoints). Writing: a closed list of
fields per record, every other key refused by name, so a client can never set the lead
institution, grants, codes, versions or audit data (no mass assignment).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.constants import (
    EXTERNAL_ID_PATTERN,
    CaseStatus,
    ExternalSource,
    TerminationType,
    TraffickingPurpose,
)
from cases.models import Case, CaseOffender, CaseShare, Offender
from cases.validators import RUC_PATTERN
from institutions.models import Institution
from kernel.choices import FiscaliaRegional, Region, Sex
from kernel.identity_documents import DocumentType
from victims.constants import MAX_AGE, AgeStatus
from victims.models import CaseVictim, Victim

MAX_PEOPLE_PER_CASE = 200
UNKNOWN_FIELD_MESSAGE = _("Este campo no existe o no se puede modificar.")


# The JSON type each kind of field takes. DRF would also accept 12 for a text, "12" for an
# integer and "yes" for a boolean; a source system sending those has a bug it should hear about.
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), _("Debe ser true o false.")),
    (serializers.IntegerField, (int,), _("Debe ser un número entero.")),
    ((serializers.CharField, serializers.ChoiceField, serializers.DateField), (str,), _("Debe ser texto.")),
)


def _json_type_error(field: serializers.Field, value) -> str | None:
    if value is None:
        return None  # allow_null decides
    for kinds, types, message in _JSON_TYPES:
        if isinstance(field, kinds):
            wrong_bool = isinstance(value, bool) and bool not in types
            return message if wrong_bool or not isinstance(value, types) else None
    return None


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not declare (DRF ignores them silently) and read-only ones, and
    values of the wrong JSON type."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name: field for name, field in self.fields.items() if not field.read_only}
            errors = {name: [UNKNOWN_FIELD_MESSAGE] for name in sorted(set(data) - set(writable))}
            for name, value in data.items():
                if name in writable and (message := _json_type_error(writable[name], value)):
                    errors[name] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def _choice(choices, **kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, **kwargs)


NATIONALITY_CHOICES = [("", "Sin información"), *((code, name) for code, name in countries)]


def _nationality(**kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=NATIONALITY_CHOICES,
        allow_blank=True,
        required=False,
        help_text="Código ISO 3166-1 alfa-2 (por ejemplo «VE»); vacío: sin información.",
        **kwargs,
    )


# --- writing ------------------------------------------------------------------------------------


class ExternalReferenceSerializer(StrictSerializer):
    source = _choice(ExternalSource.choices)
    reference = serializers.RegexField(EXTERNAL_ID_PATTERN, max_length=100)


class CaseFieldsSerializer(StrictSerializer):
    """The case's own fields (cases.services.CASE_EDITABLE_FIELDS). A field left out keeps its
    value (on a new case: the default, «sin_informacion» or empty); null empties it."""

    ruc = serializers.RegexField(RUC_PATTERN, required=False, allow_null=True, max_length=12)
    intake_date = serializers.DateField()
    investigation_start_date = serializers.DateField(required=False, allow_null=True)
    is_formalised = serializers.BooleanField(required=False)
    formalised_date = serializers.DateField(required=False, allow_null=True)
    status = _choice(CaseStatus.choices, required=False)
    termination_type = _choice(TerminationType.choices, required=False, allow_blank=True)
    termination_date = serializers.DateField(required=False, allow_null=True)
    purpose = _choice(TraffickingPurpose.choices, required=False)
    region_detected = _choice(Region.choices, required=False)
    fiscalia_regional = _choice(FiscaliaRegional.choices, required=False)


class VictimIdentitySerializer(StrictSerializer):
    given_names = serializers.CharField(required=False, allow_blank=True, max_length=200)
    surnames = serializers.CharField(required=False, allow_blank=True, max_length=200)
    document_type = _choice(DocumentType.choices, required=False, allow_blank=True)
    document_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    birth_date = serializers.DateField(required=False, allow_null=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class OffenderIdentitySerializer(StrictSerializer):
    given_names = serializers.CharField(required=False, allow_blank=True, max_length=200)
    surnames = serializers.CharField(required=False, allow_blank=True, max_length=200)
    document_type = _choice(DocumentType.choices, required=False, allow_blank=True)
    document_number = serializers.CharField(required=False, allow_blank=True, max_length=40)


class VictimWriteSerializer(StrictSerializer):
    external_id = serializers.RegexField(
        EXTERNAL_ID_PATTERN, max_length=100, help_text="Identificador de la persona en su sistema (estable)."
    )
    sex = _choice(Sex.choices, required=False)
    nationality = _nationality()
    birth_year = serializers.IntegerField(required=False, allow_null=True, min_value=1900, max_value=2100)
    age_at_identification = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AGE)
    age_status = _choice(AgeStatus.choices, required=False)
    age_at_facts = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_AGE)
    purpose = _choice(TraffickingPurpose.choices, required=False)
    region_detected = _choice(Region.choices, required=False)
    identified_date = serializers.DateField(required=False, allow_null=True)
    identity = VictimIdentitySerializer(
        required=False, help_text="Solo escritura; requiere el alcance identity:write y acceso a la identidad."
    )


class OffenderWriteSerializer(StrictSerializer):
    external_id = serializers.RegexField(EXTERNAL_ID_PATTERN, max_length=100)
    sex = _choice(Sex.choices, required=False)
    nationality = _nationality()
    is_formalised = serializers.BooleanField(required=False)
    is_convicted = serializers.BooleanField(required=False)
    sentence_date = serializers.DateField(required=False, allow_null=True)
    identity = OffenderIdentitySerializer(
        required=False, help_text="Solo escritura; requiere el alcance identity:write y acceso a la identidad."
    )


def _unique_external_ids(items, label: str) -> None:
    seen = set()
    for position, item in enumerate(items):
        if item["external_id"] in seen:
            raise serializers.ValidationError(
                {label: {position: {"external_id": [_("Este identificador se repite en la solicitud.")]}}}
            )
        seen.add(item["external_id"])


class CaseSyncSerializer(CaseFieldsSerializer):
    """The body of PUT /cases/by-ref/{source}/{reference} and of each bulk item."""

    external_references = ExternalReferenceSerializer(many=True, required=False, max_length=20)
    victims = VictimWriteSerializer(many=True, required=False, max_length=MAX_PEOPLE_PER_CASE)
    offenders = OffenderWriteSerializer(many=True, required=False, max_length=MAX_PEOPLE_PER_CASE)

    def validate(self, attrs):
        seen = set()
        for position, ref in enumerate(attrs.get("external_references", ())):
            if (ref["source"], ref["reference"]) in seen:
                raise serializers.ValidationError(
                    {
                        "external_references": {
                            position: {"reference": [_("Esta referencia se repite en la solicitud.")]}
                        }
                    }
                )
            seen.add((ref["source"], ref["reference"]))
        _unique_external_ids(attrs.get("victims", ()), "victims")
        _unique_external_ids(attrs.get("offenders", ()), "offenders")
        return attrs


class CasePatchSerializer(CaseFieldsSerializer):
    """PATCH /cases/{id}/: any subset of the case's own fields."""

    intake_date = serializers.DateField(required=False)


# --- reading ------------------------------------------------------------------------------------


class ReferenceReadSerializer(serializers.Serializer):
    source = serializers.CharField()
    reference = serializers.CharField()


class CaseSerializer(serializers.ModelSerializer):
    lead_institution = serializers.CharField(source="lead_institution.short_name")
    external_references = ReferenceReadSerializer(many=True, read_only=True)

    class Meta:
        model = Case
        fields = [
            "id", "ruc", "intake_date", "investigation_start_date", "is_formalised", "formalised_date", "status",
            "termination_type", "termination_date", "purpose", "region_detected", "fiscalia_regional",
            "lead_institution", "external_references", "version", "created_at", "updated_at",
        ]  # fmt: skip


@extend_schema_field(ReferenceReadSerializer(many=True))
class OwnReferencesField(serializers.Field):
    """A person's external ids given by the asking institution's systems only: another
    institution's internal ids for the same person are not ours to read (context
    ``institution_id``; works on prefetched references)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, references):
        institution_id = self.context.get("institution_id")
        return [
            {"source": ref.source, "reference": ref.reference}
            for ref in sorted(references.all(), key=lambda ref: (ref.source, ref.reference))
            if ref.institution_id == institution_id
        ]


class VictimSerializer(serializers.ModelSerializer):
    nationality = serializers.CharField(source="nationality.code")
    external_references = OwnReferencesField()

    class Meta:
        model = Victim
        fields = [
            "id", "code", "sex", "nationality", "birth_year", "age_at_identification", "external_references",
            "version",
        ]  # fmt: skip


class CaseVictimSerializer(serializers.ModelSerializer):
    victim = VictimSerializer()

    class Meta:
        model = CaseVictim
        fields = ["victim", "age_status", "age_at_facts", "is_minor", "purpose", "region_detected", "identified_date"]


class OffenderSerializer(serializers.ModelSerializer):
    nationality = serializers.CharField(source="nationality.code")
    external_references = OwnReferencesField()

    class Meta:
        model = Offender
        fields = ["id", "code", "sex", "nationality", "external_references", "version"]


class CaseOffenderSerializer(serializers.ModelSerializer):
    offender = OffenderSerializer()

    class Meta:
        model = CaseOffender
        fields = ["offender", "is_formalised", "is_convicted", "sentence_date"]


class CaseSyncResultSerializer(CaseSerializer):
    """A case with its people (no identity), as GET /cases/{id}/ and PUT by-ref answer."""

    victims = CaseVictimSerializer(source="victim_links", many=True, read_only=True)
    offenders = CaseOffenderSerializer(source="offender_links", many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "victims", "offenders"]


class CaseShareSerializer(serializers.ModelSerializer):
    institution = serializers.CharField(source="institution.short_name")

    class Meta:
        model = CaseShare
        fields = ["id", "institution", "can_view_identity", "can_collaborate", "reason", "created_at", "revoked_at"]


class InstitutionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Institution
        fields = ["id", "name", "short_name", "kind", "region", "is_mitp_member"]


class VictimIdentityReadSerializer(serializers.Serializer):
    given_names = serializers.CharField(allow_null=True)
    surnames = serializers.CharField(allow_null=True)
    document_type = serializers.CharField(allow_null=True)
    document_number = serializers.CharField(allow_null=True)
    birth_date = serializers.DateField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    address = serializers.CharField(allow_null=True)
    notes = serializers.CharField(allow_null=True)


class OffenderIdentityReadSerializer(serializers.Serializer):
    given_names = serializers.CharField(allow_null=True)
    surnames = serializers.CharField(allow_null=True)
    document_type = serializers.CharField(allow_null=True)
    document_number = serializers.CharField(allow_null=True)
