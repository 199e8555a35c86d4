"""REST API v1 for the Protocolo de Atención: activations, referrals and humanitarian residence
applications (machine clients and browser sessions alike).

Thin over the domain: protocol.services, protocol.referrals and protocol.residence decide
everything (404 for what the institution may not see, 403 for what it may see but not do, 409 for
a move the state does not allow, with the Spanish reason). Views only translate HTTP: scopes,
Idempotency-Key on every POST, If-Match against the record's version (412, nothing changed),
pagination, and representations without encrypted fields.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Model, Prefetch, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from api.authentication import client_id_of
from api.base import ApiView
from api.conditional import PreconditionFailed, etag, if_match_version
from api.idempotency import idempotent
from api.scopes import CASES_READ, IDENTITY_READ
from kernel.client_ip import client_ip
from protocol.api_selectors import activation_referrals, referrals_sent, residence_list
from protocol.models import (
    ProtocolActivation,
    ProtocolTransition,
    Referral,
    ReferralTransition,
    ResidenceApplication,
    ResidenceTransition,
)
from protocol.referrals import (
    provider_inbox,
    referral_create,
    referral_get,
    referral_transition,
    referral_victim_for_provider,
)
from protocol.residence import (
    residence_derive,
    residence_get,
    residence_identity_reveal,
    residence_transition,
)
from protocol.selectors import activation_get, activation_list
from protocol.serializers import (
    ActivationOpenSerializer,
    ActivationSerializer,
    ActivationTransitionSerializer,
    ConsentSerializer,
    PermitIdentitySerializer,
    ProviderMinimumDataSerializer,
    ReferralCreateSerializer,
    ReferralListQuerySerializer,
    ReferralSerializer,
    ReferralSummarySerializer,
    ReferralTransitionSerializer,
    ResidenceApplicationSerializer,
    ResidenceApplicationSummarySerializer,
    ResidenceDeriveSerializer,
    ResidenceListQuerySerializer,
    ResidenceTransitionSerializer,
)
from protocol.services import activation_open, activation_record_consent, activation_transition
from victims.identity import IDENTITY_FIELDS
from victims.models import Victim
from victims.selectors import victim_get

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'ETag leído antes (por ejemplo "3"): si el registro cambió desde entonces, responde 412 y no modifica nada.'
    ),
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=True,
    description="Clave única de esta operación (un UUID). Repetirla en 24 h devuelve la respuesta original.",
)
IDENTITY_SCOPES = {"GET": [[CASES_READ, IDENTITY_READ]]}
VICTIM_IDENTITY = tuple(f"victim__{name}" for name in IDENTITY_FIELDS)
REQUESTER = ("requester_name", "requester_contact")


# --- what each representation loads (identity and requester columns never) ----------------------


def _activations(queryset: QuerySet[ProtocolActivation]) -> QuerySet[ProtocolActivation]:
    return (
        queryset.select_related("victim", "institution")
        .defer(*REQUESTER, *VICTIM_IDENTITY)
        .prefetch_related(
            Prefetch(
                "transitions", queryset=ProtocolTransition.objects.select_related("institution").order_by("at", "id")
            )
        )
    )


def _referrals(queryset: QuerySet[Referral], *, timeline: bool = True) -> QuerySet[Referral]:
    queryset = queryset.select_related("activation__victim", "activation__institution", "provider").defer(
        *(f"activation__{name}" for name in REQUESTER), *(f"activation__{name}" for name in VICTIM_IDENTITY)
    )
    if timeline:
        queryset = queryset.prefetch_related(
            Prefetch(
                "transitions", queryset=ReferralTransition.objects.select_related("institution").order_by("at", "id")
            )
        )
    return queryset


def _applications(queryset: QuerySet[ResidenceApplication], *, timeline: bool = True) -> QuerySet:
    queryset = queryset.select_related("victim", "derived_by_institution").defer(*VICTIM_IDENTITY, "permit_number")
    if timeline:
        queryset = queryset.prefetch_related(
            Prefetch(
                "transitions", queryset=ResidenceTransition.objects.select_related("institution").order_by("at", "id")
            )
        )
    return queryset


def _answer(request, serializer, instance, *, status_code: int = status.HTTP_200_OK, location: str = "") -> Response:
    response = Response(serializer(instance).data, status=status_code)
    response["ETag"] = etag(instance.version)
    if location:
        response["Location"] = request.build_absolute_uri(location)
    return response


def _activation_answer(request, activation_id, *, created: bool = False) -> Response:
    activation = _activations(ProtocolActivation.objects).get(pk=activation_id)
    location = reverse("api:activation_detail", kwargs={"activation_id": activation.pk}) if created else ""
    return _answer(request, ActivationSerializer, activation, status_code=201 if created else 200, location=location)


def _referral_answer(request, referral_id, *, created: bool = False) -> Response:
    referral = _referrals(Referral.objects).get(pk=referral_id)
    location = reverse("api:referral_detail", kwargs={"referral_id": referral.pk}) if created else ""
    return _answer(request, ReferralSerializer, referral, status_code=201 if created else 200, location=location)


def _application_answer(request, application_id, *, created: bool = False) -> Response:
    application = _applications(ResidenceApplication.objects).get(pk=application_id)
    location = reverse("api:residence_detail", kwargs={"application_id": application.pk}) if created else ""
    return _answer(
        request, ResidenceApplicationSerializer, application, status_code=201 if created else 200, location=location
    )


IF_MATCH_PARENT = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'ETag leído antes del registro al que se agrega (la víctima o la activación, por ejemplo "3"): si '
        "cambió desde entonces, responde 412 y no crea nada."
    ),
)


def _if_match(request, model: type[Model], pk) -> int | None:
    """The version the client read (If-Match), checked against the row locked until the end of
    the request's transaction: a stale one answers 412 before the service runs, so nothing
    changes. The service gets it too (``expected_version``) and would refuse it again. On the
    POSTs that create, the row is the record the new one is added to (the victim, the
    activation: RFC 9110 §13.1.1); callers check visibility first, so a 412 never tells an
    invisible id from a missing one."""
    expected = if_match_version(request)
    if expected is not None:
        current = model.objects.select_for_update().filter(pk=pk).values_list("version", flat=True).get()
        if current != expected:
            raise PreconditionFailed()
    return expected


# --- pagination -----------------------------------------------------------------------------------


class ProtocolPagination(PageNumberPagination):
    """Page numbers: a cursor needs an order by stored columns, and the inbox is ordered by an
    urgency computed against the clock (overdue first). These are work queues read whole, not
    sync feeds. ``page`` and ``page_size`` are checked by the query serializers first."""

    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:  # DRF answers 404 for a page past the end: a parameter out of range
            raise ValidationError({"page": [_("Esa página no existe: la lista tiene menos páginas.")]}) from exc


def _page(name: str, item) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(help_text="Cuántos hay en total."),
            "next": serializers.URLField(allow_null=True, help_text="La página siguiente; null al final."),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def _paginated(request, view, queryset, serializer) -> Response:
    paginator = ProtocolPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


# --- activations ----------------------------------------------------------------------------------


class VictimActivationsApi(ApiView):
    sends_etag = frozenset({"POST"})
    checks_if_match = True  # against the victim the client read (api:victim_detail's ETag)

    @extend_schema(
        operation_id="victims_activations_list",
        responses={200: ActivationSerializer(many=True)},
        summary="Activaciones del Protocolo de Atención de una víctima, la más reciente primero",
        description="Cada una con su línea de tiempo. 404 si su institución no ve a la víctima.",
    )
    def get(self, request, victim_id):
        victim_get(user=request.user, victim_id=victim_id)
        activations = _activations(activation_list(user=request.user).filter(victim_id=victim_id)).order_by(
            "-requested_on", "-created_at", "id"
        )
        return Response(ActivationSerializer(activations, many=True).data)

    @extend_schema(
        operation_id="victims_activations_create",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH_PARENT],
        request=ActivationOpenSerializer,
        responses={201: ActivationSerializer},
        summary="Solicitar el Protocolo de Atención para una víctima (queda «solicitada»)",
        description=(
            "Un oficial de casos de cualquier institución que ve a la víctima. Su institución queda como la que "
            "activa. Una víctima tiene a lo más una activación en curso (si ya tiene una: 400 en `victim`). "
            "Nombre y contacto del tercero que pide se guardan cifrados y nunca se devuelven."
        ),
    )
    @idempotent
    def post(self, request, victim_id):
        body = ActivationOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            _if_match(request, Victim, victim_get(user=request.user, victim_id=victim_id).pk)
            activation = activation_open(actor=request.user, victim_id=victim_id, **body.validated_data)
        return _activation_answer(request, activation.pk, created=True)


class ActivationDetailApi(ApiView):
    sends_etag = True

    @extend_schema(
        operation_id="activations_retrieve",
        responses={200: ActivationSerializer},
        summary="Una activación del protocolo, con su línea de tiempo",
        description="ETag: la versión de la activación, para If-Match en sus transiciones.",
    )
    def get(self, request, activation_id):
        activation = activation_get(user=request.user, activation_id=activation_id)
        return _activation_answer(request, activation.pk)


class ActivationTransitionsApi(ApiView):
    sends_etag = True
    checks_if_match = True

    @extend_schema(
        operation_id="activations_transition",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH],
        request=ActivationTransitionSerializer,
        responses={200: ActivationSerializer},
        summary="Mover la activación: evaluar, activar, rechazar, desistir, cerrar o reactivar",
        description=(
            "Solo un oficial de la institución que activó (403 si no). Una acción que el estado actual no permite "
            "responde 409 con el motivo. Rechazar, desistir y cerrar exigen `note` (el motivo); activar exige el "
            "consentimiento registrado. Cerrar o desistir cancela las derivaciones abiertas. Con If-Match, 412 si "
            "la activación cambió desde que la leyó."
        ),
    )
    @idempotent
    def post(self, request, activation_id):
        body = ActivationTransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            activation_get(user=request.user, activation_id=activation_id)
            expected = _if_match(request, ProtocolActivation, activation_id)
            activation = activation_transition(
                actor=request.user,
                activation_id=activation_id,
                action=body.validated_data["action"],
                note=body.validated_data.get("note", ""),
                expected_version=expected,
            )
        return _activation_answer(request, activation.pk)


class ActivationConsentApi(ApiView):
    sends_etag = True
    checks_if_match = True

    @extend_schema(
        operation_id="activations_consent",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH],
        request=ConsentSerializer,
        responses={200: ActivationSerializer},
        summary="Registrar el consentimiento informado de la víctima en una activación en curso",
        description=(
            "Solo un oficial de la institución que activó. Se guarda quién lo registró y cuándo. Se registra una "
            "vez: si ya está registrado, o la activación terminó, responde 409. Con If-Match, 412 si la activación "
            "cambió desde que la leyó."
        ),
    )
    @idempotent
    def post(self, request, activation_id):
        body = ConsentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            activation_get(user=request.user, activation_id=activation_id)
            _if_match(request, ProtocolActivation, activation_id)
            activation = activation_record_consent(
                actor=request.user, activation_id=activation_id, consent_on=body.validated_data["consent_on"]
            )
        return _activation_answer(request, activation.pk)


# --- referrals ------------------------------------------------------------------------------------


class ActivationReferralsApi(ApiView):
    sends_etag = frozenset({"POST"})
    checks_if_match = True  # against the activation the client read (its ETag)

    @extend_schema(
        operation_id="activations_referrals_list",
        responses={200: ReferralSerializer(many=True)},
        summary="Derivaciones de una activación (las que su institución ve)",
        description=(
            "La institución que activó ve todas; otra institución que ve a la víctima, solo las que ella presta."
        ),
    )
    def get(self, request, activation_id):
        activation = activation_get(user=request.user, activation_id=activation_id)
        referrals = _referrals(activation_referrals(user=request.user, activation_id=activation.pk))
        return Response(ReferralSerializer(referrals, many=True).data)

    @extend_schema(
        operation_id="activations_referrals_create",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH_PARENT],
        request=ReferralCreateSerializer,
        responses={201: ReferralSerializer},
        summary="Derivar a la víctima de un protocolo activo a un servicio de una institución prestadora",
        description=(
            "Solo un oficial de la institución que activó, con acceso a la identidad de la víctima (la prestadora "
            "recibirá sus datos mínimos). El protocolo debe estar «activa» (409 si no). El plazo de respuesta es el "
            "del tipo de servicio."
        ),
    )
    @idempotent
    def post(self, request, activation_id):
        body = ReferralCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            activation = activation_get(user=request.user, activation_id=activation_id)
            _if_match(request, ProtocolActivation, activation.pk)
            referral = referral_create(
                actor=request.user,
                activation_id=activation.pk,
                service_type=body.validated_data["service_type"],
                provider_id=body.validated_data["provider"],
                note=body.validated_data.get("note", ""),
            )
        return _referral_answer(request, referral.pk, created=True)


class ReferralListApi(ApiView):
    @extend_schema(
        operation_id="referrals_list",
        parameters=[ReferralListQuerySerializer],
        responses={200: _page("ReferralPage", ReferralSummarySerializer)},
        summary="Bandeja de derivaciones: las que su institución presta (o las que envió)",
        description=(
            "`direction=incoming` (por omisión): las derivaciones abiertas que su institución presta, las más "
            "atrasadas primero (una cerrada ya no es suya). `direction=outgoing`: las de los protocolos que su "
            "institución activó, la más reciente primero. Sin línea de tiempo (está en el detalle)."
        ),
    )
    def get(self, request):
        query = ReferralListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data["direction"] == "outgoing":
            referrals = referrals_sent(user=request.user)
        else:
            inbox = provider_inbox(user=request.user)
            referrals = inbox.order_by(*inbox.query.order_by, "id")  # a stable order across pages
        if "state" in query.validated_data:
            referrals = referrals.filter(state=query.validated_data["state"])
        return _paginated(request, self, _referrals(referrals, timeline=False), ReferralSummarySerializer)


class ReferralDetailApi(ApiView):
    sends_etag = True

    @extend_schema(
        operation_id="referrals_retrieve",
        responses={200: ReferralSerializer},
        summary="Una derivación, con su línea de tiempo",
        description=(
            "Para la institución prestadora y para la que derivó. Sin datos de la causa ni de la persona: los datos "
            "mínimos de la persona se leen en /victim/ (auditado)."
        ),
    )
    def get(self, request, referral_id):
        referral = referral_get(user=request.user, referral_id=referral_id)
        return _referral_answer(request, referral.pk)


class ReferralTransitionsApi(ApiView):
    sends_etag = True
    checks_if_match = True

    @extend_schema(
        operation_id="referrals_transition",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH],
        request=ReferralTransitionSerializer,
        responses={200: ReferralSerializer},
        summary="Mover la derivación: aceptar, rechazar, iniciar, completar (prestadora) o cancelar (quien derivó)",
        description=(
            "Cada acción corresponde a un oficial de una de las dos instituciones (403 si no). Una acción que el "
            "estado actual no permite responde 409 con el motivo. Rechazar y cancelar exigen `note`. Con If-Match, "
            "412 si la derivación cambió desde que la leyó."
        ),
    )
    @idempotent
    def post(self, request, referral_id):
        body = ReferralTransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            referral_get(user=request.user, referral_id=referral_id)
            expected = _if_match(request, Referral, referral_id)
            referral = referral_transition(
                actor=request.user,
                referral_id=referral_id,
                action=body.validated_data["action"],
                note=body.validated_data.get("note", ""),
                expected_version=expected,
            )
        return _referral_answer(request, referral.pk)


class ReferralVictimApi(ApiView):
    """The referred person's minimum data, for the provider while the referral is open."""

    required_alternate_scopes = IDENTITY_SCOPES

    @extend_schema(
        operation_id="referrals_victim_retrieve",
        responses={200: ProviderMinimumDataSerializer},
        summary="Datos mínimos de la persona derivada (alcance identity:read; cada lectura queda registrada)",
        description=(
            "Solo para la institución prestadora y mientras la derivación está abierta (pendiente, aceptada o en "
            "curso): nombre, documento, contacto, sexo y edad. Cerrada la derivación, 404 (ya no es suya). "
            "Cada lectura queda en el registro de accesos, con la derivación."
        ),
    )
    def get(self, request, referral_id):
        data = referral_victim_for_provider(
            user=request.user, referral_id=referral_id, client_id=client_id_of(request), ip_address=client_ip(request)
        )
        return Response(ProviderMinimumDataSerializer(data).data)


# --- humanitarian residence -----------------------------------------------------------------------


class VictimResidenceApplicationsApi(ApiView):
    sends_etag = True
    checks_if_match = True  # against the victim the client read (api:victim_detail's ETag)

    @extend_schema(
        operation_id="victims_residence_applications_create",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH_PARENT],
        request=ResidenceDeriveSerializer,
        responses={201: ResidenceApplicationSerializer},
        summary="Derivar a la víctima a Sermig para la residencia temporal por razones humanitarias",
        description=(
            "La institución a cargo de una causa de la víctima (o la que la registró sin causa), o la Secretaría "
            "MITP (403 para otras). Una víctima tiene a lo más una solicitud en curso (400 si ya la tiene). Una "
            "renovación indica en `renews` la solicitud otorgada que renueva."
        ),
    )
    @idempotent
    def post(self, request, victim_id):
        body = ResidenceDeriveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            _if_match(request, Victim, victim_get(user=request.user, victim_id=victim_id).pk)
            application = residence_derive(
                actor=request.user,
                victim_id=victim_id,
                note=body.validated_data.get("note", ""),
                renews_id=body.validated_data.get("renews"),
            )
        return _application_answer(request, application.pk, created=True)


class ResidenceListApi(ApiView):
    @extend_schema(
        operation_id="residence_applications_list",
        parameters=[ResidenceListQuerySerializer],
        responses={200: _page("ResidenceApplicationPage", ResidenceApplicationSummarySerializer)},
        summary="Solicitudes de residencia: la cola de Sermig, o las que su institución derivó",
        description=(
            "Para Sermig, todas las solicitudes; para otra institución, las que ella derivó. Las abiertas primero, "
            "la más antigua primero. Sin línea de tiempo (está en el detalle)."
        ),
    )
    def get(self, request):
        query = ResidenceListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        applications = residence_list(user=request.user)
        if "state" in query.validated_data:
            applications = applications.filter(state=query.validated_data["state"])
        return _paginated(
            request, self, _applications(applications, timeline=False), ResidenceApplicationSummarySerializer
        )


class ResidenceDetailApi(ApiView):
    sends_etag = True

    @extend_schema(
        operation_id="residence_applications_retrieve",
        responses={200: ResidenceApplicationSerializer},
        summary="Una solicitud de residencia, con su historia",
        description="Para Sermig y para la institución que derivó. Sin datos de la causa; el número del permiso no.",
    )
    def get(self, request, application_id):
        application = residence_get(user=request.user, application_id=application_id)
        return _application_answer(request, application.pk)


class ResidenceTransitionsApi(ApiView):
    sends_etag = True
    checks_if_match = True

    @extend_schema(
        operation_id="residence_applications_transition",
        parameters=[IDEMPOTENCY_KEY, IF_MATCH],
        request=ResidenceTransitionSerializer,
        responses={200: ResidenceApplicationSerializer},
        summary="Sermig tramita: recibir, tramitar, otorgar (número y vigencia del permiso) o rechazar (motivo)",
        description=(
            "Solo un oficial de Sermig (403 para otros). Una acción que el estado actual no permite responde 409 "
            "con el motivo. El número del permiso se guarda cifrado y nunca se devuelve. Con If-Match, 412 si la "
            "solicitud cambió desde que la leyó."
        ),
    )
    @idempotent
    def post(self, request, application_id):
        body = ResidenceTransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with transaction.atomic():
            residence_get(user=request.user, application_id=application_id)
            expected = _if_match(request, ResidenceApplication, application_id)
            application = residence_transition(
                actor=request.user,
                application_id=application_id,
                action=data["action"],
                note=data.get("note", ""),
                permit_number=data.get("permit_number", ""),
                valid_from=data.get("valid_from"),
                valid_until=data.get("valid_until"),
                expected_version=expected,
            )
        return _application_answer(request, application.pk)


class ResidenceIdentityApi(ApiView):
    """The identity a permit needs, for Sermig officers: audited."""

    required_alternate_scopes = IDENTITY_SCOPES

    @extend_schema(
        operation_id="residence_applications_identity_retrieve",
        responses={200: PermitIdentitySerializer},
        summary="Identidad de la persona para el permiso (Sermig; alcance identity:read; auditado)",
        description=(
            "Solo un oficial de Sermig, mientras la solicitud está abierta u otorgada: nombres, documento, fecha de "
            "nacimiento y nacionalidad. Cada lectura queda en el registro de accesos, con la solicitud."
        ),
    )
    def get(self, request, application_id):
        identity = residence_identity_reveal(
            user=request.user,
            application_id=application_id,
            client_id=client_id_of(request),
            ip_address=client_ip(request),
        )
        return Response(PermitIdentitySerializer(identity).data)
