"""PUT /api/v1/cases/by-ref/{source}/{reference} (and PATCH /cases/{id}/): replays, versions,
If-Match, strict validation with field paths, identity scope and privacy, other institutions."""

from __future__ import annotations

import pytest

from cases.models import Case, CaseExternalReference, CaseOffender, Offender
from cases.sharing import case_share
from cases.sync import case_find_by_reference
from tests.api.conftest import machine_for
from tests.api.sync_payloads import (
    assert_problem,
    by_ref,
    counts,
    edited,
    error_fields,
    full_case,
    leaked,
    plain_case,
)
from tests.factories import CaseFactory, InstitutionFactory, UserFactory
from victims.models import CaseVictim, Victim

pytestmark = pytest.mark.django_db

REF = by_ref("pdi-parte", "PARTE-2023-0001")
OTHER_REF = by_ref("pdi-parte", "PARTE-2023-0002")


@pytest.fixture
def carabineros(db):
    return InstitutionFactory(short_name="CARAB", name="Carabineros de Chile")


def snapshot(case_pk: int) -> dict:
    """Everything of a case and its people an upsert could change, as stored."""
    return {
        "case": Case.objects.filter(pk=case_pk).values().get(),
        "references": sorted(CaseExternalReference.objects.filter(case_id=case_pk).values_list("source", "reference")),
        "victims": list(
            Victim.objects.filter(case_links__case_id=case_pk)
            .order_by("pk")
            .values("pk", "version", "sex", "nationality", "birth_year", "updated_at")
        ),
        "victim_links": list(CaseVictim.objects.filter(case_id=case_pk).order_by("pk").values()),
        "offenders": list(
            Offender.objects.filter(case_links__case_id=case_pk)
            .order_by("pk")
            .values("pk", "version", "sex", "nationality", "updated_at")
        ),
        "offender_links": list(CaseOffender.objects.filter(case_id=case_pk).order_by("pk").values()),
    }


def not_formalised(**fields) -> dict:
    return full_case(is_formalised=False, formalised_date=None, investigation_start_date=None, **fields)


def victim_version(external_id: str) -> int:
    return Victim.objects.get(external_references__reference=external_id).version


# --- replays and versions -----------------------------------------------------------------------


def test_the_same_upsert_ten_times_yields_one_case_and_identical_answers(machine):
    body = full_case()
    responses = [machine.put(REF, body) for _ in range(10)]

    assert [r.status_code for r in responses] == [201] + [200] * 9, responses[0].content
    assert {r["ETag"] for r in responses} == {'"1"'}
    first = responses[0].json()
    assert all(r.json() == first for r in responses[1:])
    assert first["version"] == 1
    assert len(first["victims"]) == 3 and len(first["offenders"]) == 2
    assert counts() == {
        "Case": 1,
        "CaseExternalReference": 2,  # pdi-parte (the path) and the tribunal's RIT
        "Victim": 3,
        "VictimExternalReference": 3,
        "CaseVictim": 3,
        "Offender": 2,
        "OffenderExternalReference": 2,
        "CaseOffender": 2,
    }
    case = Case.objects.get()
    assert case.version == 1
    assert case.lead_institution == machine.user.institution
    assert set(Victim.objects.values_list("version", flat=True)) == {1}
    assert set(Offender.objects.values_list("version", flat=True)) == {1}
    # The identity sent was stored (encrypted), for the replays to have compared against it.
    yesenia = Victim.objects.get(external_references__reference="V-100")
    assert (yesenia.given_names, yesenia.document_number, yesenia.birth_year) == ("Yesenia Marisol", "VE4471902", 2005)


def test_a_changed_case_field_bumps_the_version_once_and_is_applied(machine):
    body = full_case()
    created = machine.put(REF, body)
    assert created.status_code == 201

    changed = machine.put(REF, {**body, "purpose": "trabajo_forzoso"})

    assert changed.status_code == 200
    assert changed["ETag"] == '"2"'
    assert changed.json()["version"] == 2
    assert changed.json()["purpose"] == "trabajo_forzoso"
    case = Case.objects.get()
    assert (case.version, case.purpose) == (2, "trabajo_forzoso")
    # Its replay changes nothing more.
    again = machine.put(REF, {**body, "purpose": "trabajo_forzoso"})
    assert again.status_code == 200 and again["ETag"] == '"2"'
    assert again.json() == changed.json()
    assert Case.objects.get().version == 2


def test_a_changed_victim_field_bumps_the_case_and_the_victim_versions(machine):
    body = full_case()
    assert machine.put(REF, body).status_code == 201

    response = machine.put(REF, edited(body, lambda b: b["victims"][1].update(nationality="PE")))

    assert response.status_code == 200
    assert response.json()["version"] == 2
    wilfredo = Victim.objects.get(external_references__reference="V-101")
    assert (wilfredo.version, wilfredo.nationality.code) == (2, "PE")
    assert victim_version("V-100") == victim_version("V-102") == 1
    answered = {v["victim"]["external_references"][0]["reference"]: v["victim"] for v in response.json()["victims"]}
    assert answered["V-101"]["version"] == 2 and answered["V-101"]["nationality"] == "PE"


def test_a_changed_victim_identity_field_is_applied_and_bumps_both_versions(machine):
    body = full_case()
    assert machine.put(REF, body).status_code == 201

    response = machine.put(REF, edited(body, lambda b: b["victims"][0]["identity"].update(phone="+56 2 2345 6789")))

    assert response.status_code == 200
    assert response.json()["version"] == 2
    yesenia = Victim.objects.get(external_references__reference="V-100")
    assert (yesenia.phone, yesenia.version) == ("+56 2 2345 6789", 2)
    assert "2345 6789" not in response.content.decode()


def test_a_changed_victim_link_field_bumps_the_case_version(machine):
    body = full_case()
    assert machine.put(REF, body).status_code == 201

    response = machine.put(REF, edited(body, lambda b: b["victims"][0].update(age_at_facts=16)))

    assert response.status_code == 200
    assert Case.objects.get().version == 2
    assert CaseVictim.objects.get(victim__external_references__reference="V-100").age_at_facts == 16


def test_a_new_victim_in_an_existing_case_is_added_and_the_others_are_left_alone(machine):
    body = full_case()
    assert machine.put(REF, body).status_code == 201

    more = edited(body, lambda b: b["victims"].append({"external_id": "V-103", "sex": "femenino"}))
    response = machine.put(REF, more)

    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert CaseVictim.objects.count() == 4
    # A later sync that names only one person does not remove the others.
    only_one = machine.put(REF, {**body, "victims": body["victims"][:1], "offenders": []})
    assert only_one.status_code == 200
    assert only_one.json()["version"] == 2
    assert CaseVictim.objects.count() == 4 and CaseOffender.objects.count() == 2


# --- fiscalia-ruc -------------------------------------------------------------------------------


def test_a_fiscalia_ruc_upsert_sets_the_case_ruc(machine):
    response = machine.put(by_ref("fiscalia-ruc", "2300123456-7"), plain_case())

    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert case.ruc == "2300123456-7"
    assert response.json()["ruc"] == "2300123456-7"
    assert not CaseExternalReference.objects.filter(case=case, source="fiscalia-ruc").exists()
    # The same RUC in the body is the same case; a replay is a replay.
    same = machine.put(by_ref("fiscalia-ruc", "2300123456-7"), plain_case(ruc="2300123456-7"))
    assert same.status_code == 200
    assert same.json() == response.json()
    assert case_find_by_reference("fiscalia-ruc", "2300123456-7") == case


def test_a_body_ruc_that_differs_from_the_path_is_refused_on_ruc(machine):
    path = by_ref("fiscalia-ruc", "2300123456-7")
    before = counts()
    refused_new = machine.put(path, plain_case(ruc="2300999999-1"))
    assert_problem(refused_new, 400, "ruc")
    assert counts() == before

    assert machine.put(path, plain_case()).status_code == 201
    case = Case.objects.get()
    state = snapshot(case.pk)
    refused_existing = machine.put(path, plain_case(ruc="2300999999-1", purpose="trabajo_forzoso"))
    assert_problem(refused_existing, 400, "ruc")
    assert snapshot(case.pk) == state


# --- If-Match -----------------------------------------------------------------------------------


def test_a_stale_if_match_answers_412_and_changes_nothing(machine):
    body = full_case()
    assert machine.put(REF, body).status_code == 201
    assert machine.put(REF, {**body, "status": "suspendida"}).json()["version"] == 2
    case = Case.objects.get()
    state, before = snapshot(case.pk), counts()

    stale = machine.put(
        REF,
        edited(body, lambda b: (b.update(purpose="trabajo_forzoso"), b["victims"].append({"external_id": "V-9"}))),
        HTTP_IF_MATCH='"1"',
    )

    assert_problem(stale, 412)
    assert snapshot(case.pk) == state
    assert counts() == before
    assert Case.objects.get().version == 2
    # A stale version with an unchanged body is just as stale.
    assert machine.put(REF, {**body, "status": "suspendida"}, HTTP_IF_MATCH='"1"').status_code == 412


def test_a_matching_if_match_is_applied(machine):
    body = full_case()
    created = machine.put(REF, body)

    response = machine.put(REF, {**body, "purpose": "trabajo_forzoso"}, HTTP_IF_MATCH=created["ETag"])

    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert Case.objects.get().purpose == "trabajo_forzoso"
    # A matching If-Match on a replay changes nothing.
    replay = machine.put(REF, {**body, "purpose": "trabajo_forzoso"}, HTTP_IF_MATCH='"2"')
    assert replay.status_code == 200 and replay["ETag"] == '"2"'


def test_if_match_on_a_reference_that_does_not_exist_yet_answers_412_and_creates_nothing(machine):
    before = counts()

    response = machine.put(OTHER_REF, full_case(), HTTP_IF_MATCH='"1"')

    assert_problem(response, 412)
    assert counts() == before
    assert case_find_by_reference("pdi-parte", "PARTE-2023-0002") is None
    # If-Match: * means "only if it exists": the same.
    assert_problem(machine.put(OTHER_REF, full_case(), HTTP_IF_MATCH="*"), 412)
    assert counts() == before
    # Once it exists, * accepts whatever version is current.
    assert machine.put(OTHER_REF, full_case()).status_code == 201
    star = machine.put(OTHER_REF, full_case(purpose="trabajo_forzoso"), HTTP_IF_MATCH="*")
    assert (star.status_code, star["ETag"]) == (200, '"2"')


def test_patch_with_a_stale_if_match_answers_412_and_a_matching_one_is_applied(machine):
    created = machine.put(REF, not_formalised()).json()
    path = f"/api/v1/cases/{created['id']}/"
    assert machine.patch(path, {"status": "suspendida"}).json()["version"] == 2
    state = snapshot(created["id"])

    stale = machine.patch(path, {"purpose": "trabajo_forzoso"}, HTTP_IF_MATCH='"1"')
    assert_problem(stale, 412)
    assert snapshot(created["id"]) == state

    ok = machine.patch(path, {"purpose": "trabajo_forzoso"}, HTTP_IF_MATCH='"2"')
    assert ok.status_code == 200, ok.content
    assert ok["ETag"] == '"3"'
    assert ok.json()["purpose"] == "trabajo_forzoso"
    assert Case.objects.get().version == 3

    before = counts()
    missing = machine.patch("/api/v1/cases/999999/", {"purpose": "trabajo_forzoso"}, HTTP_IF_MATCH='"1"')
    assert missing.status_code == 404
    assert counts() == before


@pytest.mark.parametrize("formalised", [False, True], ids=["not-formalised", "formalised"])
def test_patch_changes_only_the_fields_it_sends(machine, formalised):
    """PATCH is partial: the fields left out keep their values (no serializer defaults)."""
    body = full_case(status="suspendida") if formalised else not_formalised(status="suspendida")
    created = machine.put(REF, body).json()
    before = Case.objects.filter(pk=created["id"]).values().get()

    response = machine.patch(f"/api/v1/cases/{created['id']}/", {"purpose": "trabajo_forzoso"})

    assert response.status_code == 200, response.content
    after = Case.objects.filter(pk=created["id"]).values().get()
    assert {name for name in after if after[name] != before[name]} == {"purpose", "version", "updated_at"}
    assert (after["purpose"], after["version"]) == ("trabajo_forzoso", 2)
    answered = response.json()
    assert (answered["status"], answered["region_detected"]) == ("suspendida", "CL-TA")


@pytest.mark.parametrize(
    "field",
    ["lead_institution", "version", "id", "code", "created_by", "created_at", "updated_at", "grants", "shares"],
)
def test_patch_refuses_system_fields_by_name(machine, carabineros, field):
    created = machine.put(REF, full_case()).json()
    state = snapshot(created["id"])

    value = carabineros.pk if field == "lead_institution" else 7
    response = machine.patch(f"/api/v1/cases/{created['id']}/", {field: value, "purpose": "trabajo_forzoso"})

    assert_problem(response, 400, field)
    assert snapshot(created["id"]) == state


# --- validation: strict input, field paths, nothing saved ---------------------------------------


def _set(path: str, value):
    """A change to a body: set ``value`` at a dotted path ("victims.0.identity.foo")."""

    def change(body):
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


REFUSED = [
    # unknown fields
    ("foo", 1, "foo"),
    ("victims.0.foo", 1, "victims.0.foo"),
    ("victims.2.identity.foo", "x", "victims.2.identity.foo"),
    ("offenders.1.foo", 1, "offenders.1.foo"),
    ("external_references.0.case", 1, "external_references.0.case"),
    # mass assignment of what the system owns
    ("lead_institution", "CARAB", "lead_institution"),
    ("lead_institution_id", 1, "lead_institution_id"),
    ("version", 99, "version"),
    ("code", "C-2023-000001", "code"),
    ("id", 4242, "id"),
    ("created_by", 1, "created_by"),
    ("created_at", "2020-01-01T00:00:00Z", "created_at"),
    ("updated_at", "2020-01-01T00:00:00Z", "updated_at"),
    ("grants", [{"institution": "CARAB", "permissions": ["administer_case"]}], "grants"),
    ("shares", [{"institution": "CARAB", "can_view_identity": True}], "shares"),
    ("victims.0.code", "V-2020-000001", "victims.0.code"),
    ("victims.0.version", 99, "victims.0.version"),
    ("victims.0.id", "00000000-0000-0000-0000-000000000001", "victims.0.id"),
    ("victims.1.registering_institution", 1, "victims.1.registering_institution"),
    ("victims.1.document_blind_index", "00", "victims.1.document_blind_index"),
    ("offenders.0.code", "I-2020-000001", "offenders.0.code"),
    ("offenders.0.version", 99, "offenders.0.version"),
    # invalid values
    ("victims.1.sex", "otro", "victims.1.sex"),
    ("offenders.1.nationality", "XX", "offenders.1.nationality"),
    ("status", "cerrada", "status"),
]


@pytest.mark.parametrize(("path", "value", "field"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_input_is_named_and_nothing_is_saved(machine, path, value, field):
    before = counts()

    response = machine.put(OTHER_REF, edited(full_case(), _set(path, value)))

    assert_problem(response, 400, field)
    assert counts() == before
    assert case_find_by_reference("pdi-parte", "PARTE-2023-0002") is None


def test_refused_input_changes_nothing_in_an_existing_case(machine):
    body = full_case()
    case = machine.put(REF, body).json()
    state, before = snapshot(case["id"]), counts()

    for path, value, field in REFUSED:
        bad = edited(
            body, lambda b, path=path, value=value: (_set(path, value)(b), b.update(purpose="trabajo_forzoso"))
        )
        response = machine.put(REF, bad)
        assert_problem(response, 400, field)
        assert snapshot(case["id"]) == state, path
        assert counts() == before, path


def test_a_closed_case_without_termination_type_is_refused_on_that_field(machine):
    before = counts()

    response = machine.put(OTHER_REF, full_case(status="terminada", termination_date="2024-02-01"))

    assert_problem(response, 400, "termination_type")
    assert counts() == before


def test_a_closed_case_without_termination_is_refused_on_an_existing_case_too(machine):
    case = machine.put(REF, full_case()).json()
    state = snapshot(case["id"])

    response = machine.put(REF, full_case(status="terminada"))

    assert_problem(response, 400, "termination_type", "termination_date")
    assert snapshot(case["id"]) == state


BAD_SECOND_PERSON = [
    # refused by the serializer
    (lambda b: b["victims"][1].update(sex="x"), "victims.1.sex"),
    (lambda b: b["victims"][1].update(birth_year=1800), "victims.1.birth_year"),
    (lambda b: b["victims"][1].update(external_id="V-100"), "victims.1.external_id"),
    (lambda b: b["victims"][1].update(external_id="has space"), "victims.1.external_id"),
    # refused by the model's rules, after the case and the first victim were written
    (lambda b: b["victims"][1].update(age_status="conocida"), "victims.1.age_at_facts"),
    (lambda b: b["victims"][1].update(identified_date="2999-01-01"), "victims.1.identified_date"),
    (lambda b: b["offenders"][1].update(sentence_date=None), "offenders.1.sentence_date"),
]


@pytest.mark.parametrize(("change", "field"), BAD_SECOND_PERSON, ids=[b[1] for b in BAD_SECOND_PERSON])
def test_a_bad_person_in_position_1_is_named_and_no_case_is_created(machine, change, field):
    before = counts()

    response = machine.put(OTHER_REF, edited(full_case(), change))

    assert_problem(response, 400, field)
    assert counts() == before
    assert case_find_by_reference("pdi-parte", "PARTE-2023-0002") is None


def test_a_bad_identity_document_in_position_1_is_named_by_its_path_in_the_request(machine):
    """The client sent ``victims[1].identity.document_number``: that is the path to name."""
    before = counts()
    bad = edited(full_case(), lambda b: b["victims"][1]["identity"].update(document_number="12.345.678-0"))

    response = machine.put(OTHER_REF, bad)

    assert response.status_code == 400
    assert counts() == before
    assert "victims.1.identity.document_number" in error_fields(response), response.json()


def test_an_extra_reference_held_by_another_case_is_named_by_its_position(machine):
    """The body's ``external_references[0]`` is refused: the path names it, as the request does."""
    CaseExternalReference.objects.create(
        case=CaseFactory(lead_institution=machine.user.institution), source="tribunal-rit", reference="RIT-1234-2023"
    )
    before = counts()

    response = machine.put(OTHER_REF, full_case())

    assert response.status_code == 400
    assert counts() == before
    fields = error_fields(response)
    assert any(f == "external_references.0" or f.startswith("external_references.0.") for f in fields), fields


@pytest.mark.parametrize("existing", [False, True], ids=["new-case", "existing-case"])
def test_a_reference_repeated_in_the_body_is_a_client_error_not_a_server_error(machine, existing):
    if existing:
        assert machine.put(OTHER_REF, plain_case()).status_code == 201
    before = counts()
    machine.http.raise_request_exception = False
    twice = [{"source": "tribunal-rit", "reference": "RIT-9-2024"}] * 2

    response = machine.put(OTHER_REF, plain_case(external_references=twice))

    assert_problem(response, 400, "external_references.1.reference")
    assert counts() == before


def test_the_path_reference_repeated_in_the_body_is_the_same_reference(machine):
    machine.http.raise_request_exception = False
    itself = [{"source": "pdi-parte", "reference": "PARTE-2023-0002"}]

    created = machine.put(OTHER_REF, plain_case(external_references=itself))

    assert created.status_code == 201, created.content
    assert created.json()["external_references"] == itself
    replay = machine.put(OTHER_REF, plain_case(external_references=itself))
    assert (replay.status_code, replay.json()) == (200, created.json())


# --- identity: scope, and never in an answer ----------------------------------------------------


def test_a_client_without_identity_write_cannot_send_identity(institution):
    writer = machine_for(institution, ["cases:read", "cases:write"])
    before = counts()

    for body in (
        full_case(),
        {**plain_case(), "victims": full_case()["victims"][:1]},
        {**plain_case(), "offenders": full_case()["offenders"][:1]},
    ):
        response = writer.put(OTHER_REF, body)
        assert_problem(response, 403)
        assert counts() == before

    # Without identity the same client may upsert; then identity for a known victim is refused too.
    created = writer.put(OTHER_REF, plain_case())
    assert created.status_code == 201
    state, before = snapshot(created.json()["id"]), counts()
    refused = writer.put(OTHER_REF, edited(plain_case(), lambda b: b["victims"][0].update(full_case()["victims"][0])))
    assert_problem(refused, 403)
    assert snapshot(created.json()["id"]) == state
    assert counts() == before
    assert not Victim.objects.get(external_references__reference="V-100").given_names


def test_a_refusal_says_why(machine, carabineros, institution):
    """A 403 carries the service's explanation in ``detail``, as the web pages show it."""
    writer = machine_for(institution, ["cases:read", "cases:write"], name="Sin identidad")
    no_scope = writer.put(OTHER_REF, full_case())
    assert "identity:write" in assert_problem(no_scope, 403)["detail"]

    owner = machine_for(carabineros, name="Sistema de Carabineros")
    path, _case_id = _shared_case(owner, carabineros, institution)
    view_only = machine.put(path, plain_case(purpose="trabajo_forzoso"))
    assert "permiso" in assert_problem(view_only, 403)["detail"]


def test_identity_is_never_in_a_response(machine):
    body = not_formalised()
    responses = [machine.put(REF, body), machine.put(REF, body)]
    case = responses[0].json()
    victim_id = case["victims"][0]["victim"]["id"]
    responses += [
        machine.put(REF, {**body, "purpose": "trabajo_forzoso"}),
        machine.get(REF),
        machine.get(f"/api/v1/cases/{case['id']}/"),
        machine.get("/api/v1/cases/"),
        machine.get(f"/api/v1/cases/{case['id']}/victims/"),
        machine.get(f"/api/v1/cases/{case['id']}/offenders/"),
        machine.get(f"/api/v1/victims/{victim_id}/"),
        machine.patch(f"/api/v1/cases/{case['id']}/", {"status": "suspendida"}),
        # refused requests must not echo what was sent either
        machine.put(OTHER_REF, edited(body, lambda b: b["victims"][1]["identity"].update(document_number="1-1"))),
        machine.put(OTHER_REF, edited(body, lambda b: b["victims"][0]["identity"].update(email="no es correo"))),
        machine.put(REF, {**body, "foo": "Yesenia Marisol"}),
    ]

    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 400]
    for response in responses:
        assert leaked(response) == [], (response.request["PATH_INFO"], leaked(response))


# --- other institutions -------------------------------------------------------------------------


def test_a_reference_held_by_a_case_the_institution_cannot_see_answers_409(machine, carabineros):
    owner = machine_for(carabineros, name="Sistema de Carabineros")
    path = by_ref("carabineros-parte", "CAR-2023-77")
    theirs = owner.put(path, plain_case())
    assert theirs.status_code == 201
    state, before = snapshot(theirs.json()["id"]), counts()

    response = machine.put(path, full_case(purpose="trabajo_forzoso"))

    assert "Solicite acceso" in assert_problem(response, 409)["detail"]
    assert snapshot(theirs.json()["id"]) == state
    assert counts() == before
    assert leaked(response) == []
    assert owner.get(path).json() == theirs.json()
    assert theirs.json()["lead_institution"] == "CARAB"


def test_a_ruc_held_by_a_case_the_institution_cannot_see_answers_409(machine, carabineros):
    theirs = CaseFactory(ruc="2300555555-5", lead_institution=carabineros)
    state, before = snapshot(theirs.pk), counts()

    response = machine.put(by_ref("fiscalia-ruc", "2300555555-5"), full_case())

    assert_problem(response, 409)
    assert snapshot(theirs.pk) == state
    assert counts() == before


def _shared_case(machine_of_lead, carabineros, institution, **share):
    path = by_ref("carabineros-parte", "CAR-2023-88")
    created = machine_of_lead.put(path, plain_case())
    assert created.status_code == 201
    officer = UserFactory(institution=carabineros)
    case_share(
        actor=officer, case_id=created.json()["id"], institution=institution, reason="Investigación conjunta", **share
    )
    return path, created.json()["id"]


def test_a_grantee_that_may_only_view_cannot_upsert(machine, carabineros, institution):
    owner = machine_for(carabineros, name="Sistema de Carabineros")
    path, case_id = _shared_case(owner, carabineros, institution)
    assert machine.get(path).status_code == 200  # it does see the case
    state, before = snapshot(case_id), counts()

    response = machine.put(path, plain_case(purpose="trabajo_forzoso"))

    assert_problem(response, 403)
    assert snapshot(case_id) == state
    assert counts() == before
    patched = machine.patch(f"/api/v1/cases/{case_id}/", {"purpose": "trabajo_forzoso"})
    assert patched.status_code == 403
    assert snapshot(case_id) == state


def test_a_grantee_that_may_collaborate_can_upsert_but_not_write_identity(machine, carabineros, institution):
    owner = machine_for(carabineros, name="Sistema de Carabineros")
    path, case_id = _shared_case(owner, carabineros, institution, can_collaborate=True)

    response = machine.put(path, plain_case(purpose="trabajo_forzoso"))

    assert response.status_code == 200, response.content
    case = Case.objects.get(pk=case_id)
    assert (case.purpose, case.version, case.lead_institution) == ("trabajo_forzoso", 2, carabineros)
    # Without identity access to the case, identity cannot be written into it.
    state = snapshot(case_id)
    new_person = {"external_id": "V-500", "identity": {"given_names": "Yesenia Marisol"}}
    refused = machine.put(path, {**plain_case(purpose="trabajo_forzoso"), "victims": [new_person]})
    assert_problem(refused, 403)
    assert snapshot(case_id) == state
