"""REST API v1 for cases and the people in them (machine clients and browser sessions alike).

The same selectors and services as the web pages decide everything: 404 for what the
institution may not see, 403 for what it may see but not do; identity only through the audited
identity endpoints. Views only translate HTTP (scopes, ETag/If-Match, Idempotency-Key,
pagination) to and from those calls.
"""

from __future__ import annotations

from django.db import DatabaseError, transaction
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from api.authentication import client_id_of
from api.base import ApiView
from api.conditional import check_if_match, etag, if_match_any, if_match_version
from api.idempotency import idempotent
from api.scopes import CASES_READ, IDENTITY_READ, IDENTITY_WRITE
from api.throttling import BulkRateThrottle, ClientRateThrottle
from cases.api_filters import CaseSyncFilterSerializer
from cases.constants import EXTERNAL_ID_PATTERN, SyncSource
from cases.models import Case, CaseExternalReference, CaseOffender
from cases.selectors import case_get, case_list, case_shares
from cases.serializers import (
    CaseOffenderSerializer,
    CasePatchSerializer,
    CaseSerializer,
    CaseShareSerializer,
    CaseSyncResultSerializer,
    CaseSyncSerializer,
    CaseVictimSerializer,
    InstitutionSerializer,
    OffenderIdentityReadSerializer,
    StrictSerializer,
    VictimIdentityReadSerializer,
    VictimSerializer,
)
from cases.services import case_update
from cases.sync import (
    case_fields_changed,
    case_find_by_reference,
    case_upsert_by_reference,
    cases_create_many,
    lock_references,
    new_case_positions,
    reference_lock_keys,
)
from cases.validators import normalise_ruc
from institutions.models import Institution
from kernel.api_errors import problem_for_exception
from kernel.client_ip import client_ip
from victims.identity import offender_identity_reveal, victim_identity_reveal
from victims.models import CaseVictim
from victims.selectors import case_victims, victim_get

BULK_MAX_ITEMS = 500
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'ETag leído antes (por ejemplo "3"): si la causa cambió desde entonces, responde 412 y no modifica nada.'
    ),
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=True,
    description="Clave única de esta operación (un UUID). Repetirla en 24 h devuelve la respuesta original.",
)
SOURCE = OpenApiParameter("source", str, OpenApiParameter.PATH, enum=SyncSource.values)
REFERENCE = OpenApiParameter(
    "reference", str, OpenApiParameter.PATH, pattern=EXTERNAL_ID_PATTERN, description="Referencia en ese sistema."
)


def _with_people(queryset):
    """People in a stable order (by code), so that a replay answers byte for byte the same."""
    return queryset.select_related("lead_institution").prefetch_related(
        Prefetch("external_references", queryset=CaseExternalReference.objects.order_by("source", "reference")),
        Prefetch("victim_links", queryset=CaseVictim.objects.select_related("victim").order_by("victim__code")),
        "victim_links__victim__external_references",
        Prefetch("offender_links", queryset=CaseOffender.objects.select_related("offender").order_by("offender__code")),
        "offender_links__offender__external_references",
    )


def _context(request) -> dict:
    return {"institution_id": request.user.institution_id}


def _case_response(request, case: Case, *, status_code: int = status.HTTP_200_OK, people: bool = False) -> Response:
    serializer = CaseSyncResultSerializer if people else CaseSerializer
    response = Response(serializer(case, context=_context(request)).data, status=status_code)
    response["ETag"] = etag(case.version)
    return response


class SyncCursorPagination(CursorPagination):
    """Oldest change first, so a client can resume from its last cursor or ``updated_since``."""

    ordering = ("updated_at", "id")
    page_size = 100
    max_page_size = 500
    page_size_query_param = "page_size"
    invalid_cursor_message = _("El cursor no es válido: use el valor de «next» de la página anterior.")

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound as exc:  # DRF answers 404; a malformed parameter is a 400 naming it
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc


CASE_PAGE = inline_serializer(
    "CasePage",
    {
        "next": serializers.URLField(allow_null=True, help_text="La página siguiente; null al final."),
        "previous": serializers.URLField(allow_null=True),
        "results": CaseSerializer(many=True),
    },
)


class CaseListApi(ApiView):
    @extend_schema(
        operation_id="cases_list",
        parameters=[CaseSyncFilterSerializer],
        responses={200: CASE_PAGE},
        summary="Causas visibles para su institución, por fecha de último cambio",
    )
    def get(self, request):
        filters = CaseSyncFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        cases = filters.apply(case_list(user=request.user), institution_id=request.user.institution_id)
        cases = cases.prefetch_related("external_references")
        paginator = SyncCursorPagination()
        page = paginator.paginate_queryset(cases, request, view=self)
        return paginator.get_paginated_response(CaseSerializer(page, many=True).data)


class CaseDetailApi(ApiView):
    sends_etag = True

    @extend_schema(
        operation_id="cases_retrieve",
        responses={200: CaseSyncResultSerializer},
        summary="Una causa, con sus víctimas e imputados (sin identidad)",
    )
    def get(self, request, case_id: int):
        case_get(user=request.user, case_id=case_id)
        return _case_response(request, _with_people(Case.objects).get(pk=case_id), people=True)

    @extend_schema(
        operation_id="cases_partial_update",
        request=CasePatchSerializer,
        parameters=[IF_MATCH],
        responses={200: CaseSerializer},
        summary="Modificar campos de la causa (con If-Match para no pisar cambios ajenos)",
    )
    def patch(self, request, case_id: int):
        fields = CasePatchSerializer(data=request.data, partial=True)
        fields.is_valid(raise_exception=True)
        with transaction.atomic():
            case = case_get(user=request.user, case_id=case_id)
            if fields.validated_data.get("ruc"):  # the RUC an upsert by fiscalia-ruc may be creating
                lock_references([f"ruc:{normalise_ruc(fields.validated_data['ruc'])}"])
            expected = check_if_match(request, case.version)
            if not case_fields_changed(case, fields.validated_data):
                # Nothing to change (an empty body, or the values it holds): no new version.
                return _case_response(
                    request, case_list(user=request.user).prefetch_related("external_references").get(pk=case.pk)
                )
            case = case_update(
                actor=request.user,
                case_id=case.pk,
                expected_version=expected if expected is not None else case.version,
                data=fields.validated_data,
            )
        return _case_response(
            request, case_list(user=request.user).prefetch_related("external_references").get(pk=case.pk)
        )


class CaseByReferenceApi(ApiView):
    sends_etag = True

    @extend_schema(
        operation_id="cases_by_reference_retrieve",
        parameters=[SOURCE, REFERENCE],
        responses={200: CaseSyncResultSerializer},
        summary="La causa que un sistema de origen conoce por esa referencia",
    )
    def get(self, request, source: str, reference: str):
        case = case_find_by_reference(source, reference)
        if case is None:
            raise Http404
        case_get(user=request.user, case_id=case.pk)
        return _case_response(request, _with_people(Case.objects).get(pk=case.pk), people=True)

    @extend_schema(
        operation_id="cases_by_reference_upsert",
        parameters=[SOURCE, REFERENCE, IF_MATCH],
        request=CaseSyncSerializer,
        responses={200: CaseSyncResultSerializer, 201: CaseSyncResultSerializer},
        summary="Crear o actualizar la causa por su referencia externa (reintentable)",
        description=(
            "201 si se creó, 200 si existía (con o sin cambios). Repetir la misma solicitud no cambia nada: "
            "misma respuesta, misma versión. Las personas se identifican por `external_id` en el espacio del "
            "sistema de origen; las que no se envían quedan como están."
        ),
    )
    def put(self, request, source: str, reference: str):
        body = CaseSyncSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = case_upsert_by_reference(
            actor=request.user,
            source=source,
            reference=reference,
            data=body.validated_data,
            identity_writes_allowed=_may_write_identity(request),
            expected_version=if_match_version(request),
            must_exist=if_match_any(request),
        )
        case = _with_people(Case.objects).get(pk=result.case.pk)
        return _case_response(request, case, status_code=201 if result.created else 200, people=True)


def _may_write_identity(request) -> bool:
    token = request.auth
    if token is None:
        return True  # a person's session: role and grants decide (victims.services)
    return token.allow_scopes([IDENTITY_WRITE])


class BulkItemSerializer(StrictSerializer):
    source = serializers.ChoiceField(choices=SyncSource.choices)
    reference = serializers.RegexField(EXTERNAL_ID_PATTERN, max_length=100)
    case = CaseSyncSerializer()


BULK_MAX_PEOPLE = 5000


class BulkRequestSerializer(StrictSerializer):
    items = BulkItemSerializer(many=True, min_length=1, max_length=BULK_MAX_ITEMS)

    def validate_items(self, items):
        people = sum(len(item["case"].get("victims", ())) + len(item["case"].get("offenders", ())) for item in items)
        if people > BULK_MAX_PEOPLE:
            raise serializers.ValidationError(
                _("Una carga masiva lleva a lo más %(max)s víctimas e imputados en total (esta trae %(n)s).")
                % {"max": BULK_MAX_PEOPLE, "n": people}
            )
        return items


BULK_RESULT = inline_serializer(
    "BulkResult",
    {
        "succeeded": serializers.IntegerField(),
        "failed": serializers.IntegerField(),
        "results": inline_serializer(
            "BulkItemResult",
            {
                "index": serializers.IntegerField(),
                "status": serializers.IntegerField(
                    help_text="201 creada, 200 actualizada o sin cambios; 4xx rechazada."
                ),
                "case_id": serializers.IntegerField(required=False),
                "version": serializers.IntegerField(required=False),
                "created": serializers.BooleanField(required=False),
                "changed": serializers.BooleanField(required=False),
                "problem": inline_serializer(
                    "BulkItemProblem",
                    {
                        "title": serializers.CharField(),
                        "status": serializers.IntegerField(),
                        "detail": serializers.CharField(allow_blank=True),
                        "errors": serializers.ListField(child=serializers.DictField(), required=False),
                    },
                    required=False,
                ),
            },
            many=True,
        ),
    },
)


class CaseBulkApi(ApiView):
    """Up to 500 upserts in one request; each item succeeds or fails on its own."""

    max_body_bytes = 16 * 1024 * 1024
    throttle_classes = [ClientRateThrottle, BulkRateThrottle]

    @extend_schema(
        operation_id="cases_bulk_upsert",
        parameters=[IDEMPOTENCY_KEY],
        request=BulkRequestSerializer,
        responses={200: BULK_RESULT},
        summary="Carga masiva: hasta 500 causas por solicitud, con resultado por ítem",
        description=(
            "Cada ítem es un upsert por referencia (como PUT by-ref) y tiene éxito o falla por sí solo: la "
            "respuesta 200 trae, por ítem, 201/200 con la causa o el problema (400, 403, 409...) que lo impidió. "
            "Una solicitud que no cumple el esquema (tipos, campos desconocidos, más de 500 ítems) se rechaza "
            "entera con 400. Requiere Idempotency-Key: repetirla devuelve la respuesta original sin actuar."
        ),
    )
    @idempotent
    def post(self, request):
        body = BulkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        items = body.validated_data["items"]
        identity_ok = _may_write_identity(request)
        # Every reference of the request locked at once, in one order: two bulk requests
        # naming the same cases or people wait for each other instead of deadlocking.
        lock_references(
            key
            for item in items
            for key in reference_lock_keys(request.user.institution_id, item["source"], item["reference"], item["case"])
        )
        triples = [(item["source"], item["reference"], item["case"]) for item in items]
        # New cases with new people are written together (cases.sync.cases_create_many); the
        # rest one by one, after them, each in its own savepoint.
        new = sorted(new_case_positions(request.user, triples))
        outcomes: dict[int, object] = {}
        if new:
            try:
                with transaction.atomic():
                    created = cases_create_many(
                        actor=request.user, items=[triples[i] for i in new], identity_writes_allowed=identity_ok
                    )
            except DatabaseError:  # a rule the checks in memory do not mirror: each item on its own
                pass
            else:
                outcomes.update(zip(new, created, strict=True))
        for index, (source, reference, data) in enumerate(triples):
            if index in outcomes:
                continue
            try:
                with transaction.atomic():
                    outcomes[index] = case_upsert_by_reference(
                        actor=request.user,
                        source=source,
                        reference=reference,
                        data=data,
                        identity_writes_allowed=identity_ok,
                        locked=True,
                    )
            except Exception as exc:  # each item fails alone; a server error still fails the request
                outcomes[index] = exc
        results = []
        for index in range(len(triples)):
            result = outcomes[index]
            if isinstance(result, Exception):
                status_code, problem = problem_for_exception(result, request)
                if status_code >= 500:
                    raise result
                results.append({"index": index, "status": status_code, "problem": _item_problem(problem)})
                continue
            results.append(
                {
                    "index": index,
                    "status": 201 if result.created else 200,
                    "case_id": result.case.pk,
                    "version": result.case.version,
                    "created": result.created,
                    "changed": result.changed,
                }
            )
        failed = sum(1 for result in results if result["status"] >= 400)
        return Response({"succeeded": len(results) - failed, "failed": failed, "results": results})


def _item_problem(problem: dict) -> dict:
    return {key: problem[key] for key in ("title", "status", "detail", "errors") if key in problem}


class CaseVictimsApi(ApiView):
    @extend_schema(operation_id="cases_victims_list", responses={200: CaseVictimSerializer(many=True)})
    def get(self, request, case_id: int):
        case = case_get(user=request.user, case_id=case_id)
        links = case_victims(user=request.user, case_id=case.pk).prefetch_related("victim__external_references")
        return Response(CaseVictimSerializer(links.order_by("victim__code"), many=True, context=_context(request)).data)


class CaseOffendersApi(ApiView):
    @extend_schema(operation_id="cases_offenders_list", responses={200: CaseOffenderSerializer(many=True)})
    def get(self, request, case_id: int):
        case = case_get(user=request.user, case_id=case_id)
        links = (
            CaseOffender.objects.filter(case=case)
            .select_related("offender")
            .prefetch_related("offender__external_references")
            .order_by("offender__code")
        )
        return Response(CaseOffenderSerializer(links, many=True, context=_context(request)).data)


class CaseSharesApi(ApiView):
    @extend_schema(
        operation_id="cases_shares_list",
        responses={200: CaseShareSerializer(many=True)},
        summary="Con quién comparte la causa su institución (solo la institución a cargo)",
    )
    def get(self, request, case_id: int):
        return Response(CaseShareSerializer(case_shares(user=request.user, case_id=case_id), many=True).data)


class VictimDetailApi(ApiView):
    sends_etag = True

    @extend_schema(operation_id="victims_retrieve", responses={200: VictimSerializer})
    def get(self, request, victim_id):
        victim = victim_get(user=request.user, victim_id=victim_id)
        response = Response(VictimSerializer(victim, context=_context(request)).data)
        response["ETag"] = etag(victim.version)
        return response


class VictimIdentityApi(ApiView):
    """The decrypted identity: audited like a browser reveal, naming the client."""

    required_alternate_scopes = {"GET": [[CASES_READ, IDENTITY_READ]]}

    @extend_schema(
        operation_id="victims_identity_retrieve",
        responses={200: VictimIdentityReadSerializer},
        summary="Identidad de la víctima (alcance identity:read; cada lectura queda en el registro de accesos)",
        description=(
            "Solo si su institución tiene acceso a la identidad de esta víctima (institución a cargo, o causa "
            "compartida con identidad por fundamento legal o consentimiento vigente). La lectura queda registrada "
            "con el client_id de su sistema."
        ),
    )
    def get(self, request, victim_id):
        identity = victim_identity_reveal(
            user=request.user, victim_id=victim_id, client_id=client_id_of(request), ip_address=client_ip(request)
        )
        return Response(VictimIdentityReadSerializer(identity).data)


class OffenderIdentityApi(ApiView):
    required_alternate_scopes = {"GET": [[CASES_READ, IDENTITY_READ]]}

    @extend_schema(
        operation_id="cases_offenders_identity_retrieve",
        responses={200: OffenderIdentityReadSerializer},
        summary="Identidad de un imputado de la causa (alcance identity:read; auditado)",
    )
    def get(self, request, case_id: int, offender_id):
        identity = offender_identity_reveal(
            user=request.user,
            case_id=case_id,
            offender_id=offender_id,
            client_id=client_id_of(request),
            ip_address=client_ip(request),
        )
        return Response(OffenderIdentityReadSerializer(identity).data)


class InstitutionListApi(ApiView):
    @extend_schema(operation_id="institutions_list", responses={200: InstitutionSerializer(many=True)})
    def get(self, request):
        institutions = Institution.objects.filter(is_active=True).order_by("short_name")
        return Response(InstitutionSerializer(institutions, many=True).data)
