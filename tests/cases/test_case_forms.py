"""The case and offender create/edit pages: what an officer sees and what ends up saved.

Victim pages: tests/victims/test_victim_forms.py. Who may reach each page, for every kind of
user: tests/access/test_access_matrix.py.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseOffender, Offender
from cases.services import case_update, offender_link_to_case, offender_register
from cases.sharing import case_share
from institutions.constants import Role
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, valid_run
from tests.forms_helpers import body, field_errors, grantee_officer

pytestmark = pytest.mark.django_db

CONFLICT = (
    "Otra persona modificó esta causa mientras usted la editaba. "
    "Revise los cambios actuales y vuelva a aplicar los suyos."
)
VALID_CASE = {
    "ruc": "2300123456-7",
    "intake_date": "2023-03-01",
    "investigation_start_date": "2023-03-05",
    "is_formalised": "on",
    "formalised_date": "2023-06-10",
    "status": "vigente",
    "termination_type": "",
    "termination_date": "",
    "purpose": "explotacion_sexual",
    "region_detected": "CL-TA",
    "fiscalia_regional": "FR-TA",
}


@pytest.fixture
def case(lead):
    return CaseFactory(lead_institution=lead, ruc="2300000001-1", region_detected="CL-TA")


# --- registering a case -----------------------------------------------------------------------


def test_the_new_case_page_labels_every_field_in_spanish_and_is_never_cached(officer_client):
    response = officer_client.get(reverse("cases:create"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = body(response)
    for label in ("RUC", "Fecha de ingreso", "Formalizada", "Estado", "Fin de explotación", "Fiscalía regional"):
        assert f">{label}" in html, label
    assert 'type="date"' in html and 'name="intake_date"' in html
    assert "(obligatorio)" in html  # the intake date is required, and says so
    assert '<option value="explotacion_sexual">Explotación sexual</option>' in html


def test_an_officer_registers_a_case_and_their_institution_leads_it(officer_client, officer, lead):
    response = officer_client.post(reverse("cases:create"), VALID_CASE)

    case = Case.objects.get(ruc="2300123456-7")
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    assert (case.lead_institution, case.created_by, case.version) == (lead, officer, 1)
    assert (case.is_formalised, case.formalised_date) == (True, datetime.date(2023, 6, 10))
    assert officer_client.get(response["Location"]).status_code == 200  # the lead sees what it registered


TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ruc": "23-45"}, "ruc", "El RUC debe tener diez dígitos, un guion y un dígito verificador"),
        ({"intake_date": ""}, "intake_date", "Este campo es requerido."),
        ({"intake_date": "2023-02-31"}, "intake_date", "Introduzca una fecha válida."),
        ({"intake_date": TOMORROW}, "intake_date", "La fecha no puede ser posterior a hoy."),
        ({"formalised_date": ""}, "formalised_date", "Una causa formalizada debe indicar la fecha de formalización."),
        (
            {"investigation_start_date": ""},
            "investigation_start_date",
            "Una causa formalizada debe indicar la fecha de inicio de la investigación.",
        ),
        (
            {"formalised_date": "2023-03-02"},
            "formalised_date",
            "La formalización no puede ser anterior al inicio de la investigación.",
        ),
        ({"status": "terminada"}, "termination_type", "Una causa terminada debe indicar el tipo de término."),
        ({"termination_type": "condenatoria"}, "termination_type", "Solo una causa terminada puede tener tipo"),
        ({"purpose": "robo"}, "purpose", "Escoja una opción válida."),
        ({"region_detected": "CL-XX"}, "region_detected", "Escoja una opción válida."),
    ],
)
def test_each_bad_case_field_is_refused_next_to_the_field_in_spanish_with_the_input_kept(
    officer_client, changes, field, message
):
    posted = {**VALID_CASE, **changes}

    response = officer_client.post(reverse("cases:create"), posted)

    assert response.status_code == 400
    assert any(message in error for error in field_errors(response, field)), response.context["form"].errors
    html = body(response)
    assert 'aria-invalid="true"' in html and f'id="id_{field}_error"' in html
    assert f'href="#id_{field}"' in html  # the summary at the top links to the field
    if "ruc" not in changes:
        assert 'value="2300123456-7"' in html  # what was typed is still there
    for name, value in changes.items():
        if value and name not in {"purpose", "region_detected", "status", "termination_type"}:
            assert f'value="{value}"' in html
    assert not Case.objects.exists()


def test_all_the_errors_of_one_submission_are_shown_together_with_a_summary(officer_client):
    response = officer_client.post(reverse("cases:create"), {**VALID_CASE, "ruc": "1", "status": "terminada"})

    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) >= {"ruc", "termination_type", "termination_date"}
    html = body(response)
    assert 'role="alert"' in html and "No se guardó: revise los datos marcados" in html
    assert html.count('aria-invalid="true"') == 3
    assert 'aria-describedby="id_ruc_helptext id_ruc_error"' in html


def test_a_ruc_already_registered_is_refused_on_the_ruc_field(officer_client, case):
    response = officer_client.post(reverse("cases:create"), {**VALID_CASE, "ruc": case.ruc})

    assert response.status_code == 400
    assert field_errors(response, "ruc") == ["Ya existe Causa con este RUC."]
    assert Case.objects.count() == 1


@pytest.mark.parametrize("role", [Role.READER, Role.INSTITUTION_ADMIN])
def test_a_user_who_is_not_a_case_officer_cannot_register_a_case(client, lead, role):
    client.force_login(UserFactory(institution=lead, role=role))

    assert client.get(reverse("cases:create")).status_code == 403
    assert client.post(reverse("cases:create"), VALID_CASE).status_code == 403
    assert not Case.objects.exists()


def test_a_system_administrator_without_an_institution_cannot_register_a_case(client):
    client.force_login(UserFactory(institution=None, role="", is_staff=True, is_superuser=True))

    assert client.post(reverse("cases:create"), VALID_CASE).status_code == 403
    assert not Case.objects.exists()


# --- editing a case ---------------------------------------------------------------------------


def test_the_edit_page_shows_the_current_values_and_carries_the_version(officer_client, case):
    response = officer_client.get(reverse("cases:edit", args=[case.pk]))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = body(response)
    assert 'value="2300000001-1"' in html and 'value="2023-03-01"' in html
    assert '<input type="hidden" name="version" value="1"' in html
    assert '<option value="CL-TA" selected>Tarapacá</option>' in html


def test_an_officer_edits_a_case_and_its_version_moves_on(officer_client, case):
    posted = {**VALID_CASE, "ruc": case.ruc, "region_detected": "CL-AN", "version": 1}

    response = officer_client.post(reverse("cases:edit", args=[case.pk]), posted)

    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    case.refresh_from_db()
    assert (case.region_detected, case.is_formalised, case.version) == ("CL-AN", True, 2)


def test_a_bad_edit_is_refused_on_its_field_and_changes_nothing(officer_client, case):
    posted = {**VALID_CASE, "ruc": case.ruc, "status": "terminada", "termination_type": "condenatoria"}

    response = officer_client.post(reverse("cases:edit", args=[case.pk]), {**posted, "version": 1})

    assert response.status_code == 400
    assert field_errors(response, "termination_date") == ["Una causa terminada debe indicar la fecha de término."]
    assert 'value="condenatoria" selected' in body(response)
    case.refresh_from_db()
    assert (case.status, case.version, case.is_formalised) == ("vigente", 1, False)


def test_an_edit_without_the_version_is_refused_and_says_why(officer_client, case):
    response = officer_client.post(reverse("cases:edit", args=[case.pk]), {**VALID_CASE, "ruc": case.ruc})

    assert response.status_code == 400
    assert "Falta la versión de la ficha que se editaba" in body(response)
    case.refresh_from_db()
    assert case.version == 1


def test_an_edit_over_someone_elses_save_is_refused_with_the_current_values_shown(officer_client, case, lead):
    colleague = UserFactory(institution=lead, role=Role.CASE_OFFICER)
    officer_client.get(reverse("cases:edit", args=[case.pk]))  # the form is read at version 1
    case_update(actor=colleague, case_id=case.pk, expected_version=1, data={"purpose": "trabajo_forzoso"})
    mine = {**VALID_CASE, "ruc": case.ruc, "is_formalised": "", "formalised_date": "", "region_detected": "CL-AN"}

    response = officer_client.post(reverse("cases:edit", args=[case.pk]), {**mine, "version": 1})

    assert response.status_code == 409
    html = body(response)
    assert CONFLICT in html
    assert '<input type="hidden" name="version" value="2"' in html  # saving again starts from the current one
    assert '<option value="trabajo_forzoso" selected>' in html  # the colleague's change is what the form shows
    assert '<th scope="row">Región de detección</th><td>Antofagasta</td><td>Tarapacá</td>' in html
    case.refresh_from_db()
    assert (case.purpose, case.region_detected, case.version) == ("trabajo_forzoso", "CL-TA", 2)


def test_a_reader_of_the_lead_institution_cannot_edit_the_case(client, case, lead):
    client.force_login(UserFactory(institution=lead, role=Role.READER))

    assert client.get(reverse("cases:edit", args=[case.pk])).status_code == 403
    response = client.post(reverse("cases:edit", args=[case.pk]), {**VALID_CASE, "version": 1})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.version == 1


def test_an_officer_of_another_institution_gets_404_and_changes_nothing(client, case):
    client.force_login(UserFactory(institution=InstitutionFactory(), role=Role.CASE_OFFICER))

    assert client.get(reverse("cases:edit", args=[case.pk])).status_code == 404
    assert client.post(reverse("cases:edit", args=[case.pk]), {**VALID_CASE, "version": 1}).status_code == 404
    case.refresh_from_db()
    assert (case.version, case.ruc) == (1, "2300000001-1")


def test_a_grantee_shared_to_collaborate_edits_but_one_shared_to_view_gets_403(client, case, officer):
    collaborator, viewer = InstitutionFactory(), InstitutionFactory()
    case_share(actor=officer, case_id=case.pk, institution=collaborator, reason="Apoyo", can_collaborate=True)
    case_share(actor=officer, case_id=case.pk, institution=viewer, reason="Información")

    client.force_login(UserFactory(institution=viewer, role=Role.CASE_OFFICER))
    assert client.get(reverse("cases:edit", args=[case.pk])).status_code == 403
    client.force_login(UserFactory(institution=collaborator, role=Role.CASE_OFFICER))
    posted = {**VALID_CASE, "ruc": case.ruc, "is_formalised": "", "formalised_date": "", "version": 1}
    assert client.post(reverse("cases:edit", args=[case.pk]), posted).status_code == 302
    case.refresh_from_db()
    assert (case.version, case.lead_institution_id) == (2, officer.institution_id)  # the lead does not change


# --- offenders --------------------------------------------------------------------------------

VALID_OFFENDER = {
    "given_names": "Ruperto",
    "surnames": "Lagos Soto",
    "document_type": "run",
    "document_number": valid_run(9_876_543),
    "sex": "masculino",
    "nationality": "CL",
    "is_formalised": "on",
    "is_convicted": "",
    "sentence_date": "",
}


def raw_columns(table: str, pk, columns: tuple[str, ...]) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [pk])  # noqa: S608 (fixed names)
        return cursor.fetchone()


def test_an_officer_registers_an_offender_whose_identity_is_stored_encrypted(officer_client, case):
    page = officer_client.get(reverse("cases:offender_create", args=[case.pk]))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert 'name="given_names"' in body(page) and 'autocomplete="off"' in body(page)

    response = officer_client.post(reverse("cases:offender_create", args=[case.pk]), VALID_OFFENDER)

    assert response.status_code == 302 and response["Location"] == reverse("cases:offenders", args=[case.pk])
    link = CaseOffender.objects.select_related("offender").get(case=case)
    offender = link.offender
    assert (offender.given_names, offender.document_number, link.is_formalised) == (
        "Ruperto",
        VALID_OFFENDER["document_number"],
        True,
    )
    stored = raw_columns("cases_offender", offender.pk, ("given_names", "surnames", "document_number"))
    for column, plaintext in zip(stored, ("Ruperto", "Lagos", "9876543"), strict=True):
        assert plaintext.encode() not in bytes(column)
    assert offender.document_index is not None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"document_number": "9.876.543-0"}, "document_number", "El dígito verificador del RUN no es válido."),
        ({"document_type": ""}, "document_type", "Indique el tipo y el número de documento, o ninguno de los dos."),
        ({"sex": ""}, "sex", "Este campo es requerido."),
        ({"nationality": "XX"}, "nationality", "Escoja una opción válida."),
        ({"is_convicted": "on"}, "sentence_date", "Un condenado debe tener fecha de sentencia."),
        ({"sentence_date": "2024-01-10"}, "sentence_date", "Solo un condenado puede tener fecha de sentencia."),
        ({"given_names": "x" * 201}, "given_names", "Asegúrese de que este valor tenga menos de 200 caracteres"),
    ],
)
def test_each_bad_offender_field_is_refused_in_spanish_and_nothing_is_saved(
    officer_client, case, changes, field, message
):
    response = officer_client.post(reverse("cases:offender_create", args=[case.pk]), {**VALID_OFFENDER, **changes})

    assert response.status_code == 400
    assert any(message in error for error in field_errors(response, field)), response.context["form"].errors
    assert 'value="Lagos Soto"' in body(response)
    assert not Offender.objects.exists() and not CaseOffender.objects.exists()


def test_an_offender_is_not_saved_when_only_their_part_in_the_case_is_refused(officer_client, case):
    # The offender's own fields are valid and are written first; the link is refused after that,
    # and the offender goes with it.
    response = officer_client.post(
        reverse("cases:offender_create", args=[case.pk]), {**VALID_OFFENDER, "is_convicted": "on"}
    )

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"sentence_date"}
    assert not Offender.objects.exists() and not CaseOffender.objects.exists()


def test_errors_of_the_offender_and_of_their_part_in_the_case_are_shown_together(officer_client, case):
    posted = {**VALID_OFFENDER, "document_number": "1-1", "sentence_date": "2024-01-10"}

    response = officer_client.post(reverse("cases:offender_create", args=[case.pk]), posted)

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"document_number", "sentence_date"}


def test_a_collaborator_without_identity_access_registers_an_offender_without_identity(client, case, officer):
    client.force_login(grantee_officer(case, officer, can_collaborate=True))

    page = client.get(reverse("cases:offender_create", args=[case.pk]))
    assert page.status_code == 200
    assert 'name="given_names"' not in body(page) and "no tiene acceso a la identidad" in body(page)
    response = client.post(reverse("cases:offender_create", args=[case.pk]), VALID_OFFENDER)

    assert response.status_code == 302
    offender = Offender.objects.get()
    assert offender.sex == "masculino"
    assert raw_columns("cases_offender", offender.pk, ("given_names", "document_number")) == (None, None)


def test_a_grantee_with_identity_on_a_legal_basis_registers_offender_identity(client, case, officer):
    client.force_login(
        grantee_officer(
            case, officer, can_collaborate=True, can_view_identity=True, legal_basis="Oficio 12/2024 del fiscal"
        )
    )

    response = client.post(reverse("cases:offender_create", args=[case.pk]), VALID_OFFENDER)

    assert response.status_code == 302
    assert Offender.objects.get().surnames == "Lagos Soto"


@pytest.fixture
def offender_link(case):
    offender = offender_register(
        actor=None, given_names="Juan", surnames="Soto", document_type="run",
        document_number=valid_run(8_765_432), sex="masculino", nationality="PE",
    )  # fmt: skip
    return offender_link_to_case(actor=None, offender=offender, case=case)


def edit_url(link) -> str:
    return reverse("cases:offender_edit", args=[link.case_id, link.offender_id])


def test_the_offender_edit_page_shows_no_identity_until_asked_and_asking_is_audited(officer_client, offender_link):
    page = officer_client.get(edit_url(offender_link))
    assert page.status_code == 200
    assert "Juan" not in body(page) and 'name="given_names"' not in body(page)
    assert "Mostrar y corregir la identidad" in body(page)
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).exists()

    revealed = officer_client.post(edit_url(offender_link), {"accion": "mostrar_identidad"})

    assert revealed.status_code == 200 and "no-store" in revealed["Cache-Control"]
    assert 'value="Juan"' in body(revealed) and 'name="con_identidad" value="1"' in body(revealed)
    event = AccessEvent.objects.get(action=AccessAction.IDENTITY_READ)
    assert event.details == {"offender_code": offender_link.offender.code}


def test_an_officer_corrects_an_offender_and_their_part_in_the_case(officer_client, offender_link):
    posted = {**VALID_OFFENDER, "con_identidad": "1", "is_convicted": "on", "sentence_date": "2024-05-02"}

    response = officer_client.post(edit_url(offender_link), {**posted, "version": 1})

    assert response.status_code == 302
    link = CaseOffender.objects.select_related("offender").get(pk=offender_link.pk)
    assert (link.offender.given_names, link.offender.nationality.code, link.offender.version) == ("Ruperto", "CL", 2)
    assert (link.is_convicted, link.sentence_date) == (True, datetime.date(2024, 5, 2))
    assert b"Ruperto" not in bytes(raw_columns("cases_offender", link.offender_id, ("given_names",))[0])


def test_an_offender_edit_without_identity_leaves_the_identity_untouched(officer_client, offender_link):
    statistical = {"sex": "sin_informacion", "nationality": "BO", "is_formalised": "on", "version": 1}

    response = officer_client.post(edit_url(offender_link), statistical)

    assert response.status_code == 302
    offender = Offender.objects.get(pk=offender_link.offender_id)
    assert (offender.given_names, offender.document_number, offender.nationality.code) == (
        "Juan",
        valid_run(8_765_432),
        "BO",
    )


def test_an_offender_edit_over_someone_elses_save_answers_409_and_overwrites_nothing(
    officer_client, offender_link, lead
):
    from cases.services import offender_update

    colleague = UserFactory(institution=lead, role=Role.CASE_OFFICER)
    offender_update(
        actor=colleague, case_id=offender_link.case_id, offender_id=offender_link.offender_id,
        expected_version=1, data={"nationality": "AR"}, link_data={},
    )  # fmt: skip

    response = officer_client.post(edit_url(offender_link), {"sex": "masculino", "nationality": "BO", "version": 1})

    assert response.status_code == 409
    assert "Otra persona modificó este imputado mientras usted lo editaba." in body(response)
    assert '<option value="AR" selected>' in body(response)
    assert Offender.objects.get(pk=offender_link.offender_id).nationality.code == "AR"


def test_a_collaborator_without_identity_access_cannot_write_offender_identity(client, case, officer, offender_link):
    client.force_login(grantee_officer(case, officer, can_collaborate=True))

    page = client.get(edit_url(offender_link))
    assert page.status_code == 200 and "Mostrar y corregir la identidad" not in body(page)
    response = client.post(edit_url(offender_link), {**VALID_OFFENDER, "con_identidad": "1", "version": 1})

    assert response.status_code == 403
    offender = Offender.objects.get(pk=offender_link.offender_id)
    assert (offender.given_names, offender.version) == ("Juan", 1)


def test_an_offender_of_another_case_is_not_found_through_this_case(officer_client, offender_link, lead):
    other_case = CaseFactory(lead_institution=lead)

    response = officer_client.get(reverse("cases:offender_edit", args=[other_case.pk, offender_link.offender_id]))

    assert response.status_code == 404


# --- history ----------------------------------------------------------------------------------


def test_an_edit_through_the_page_is_in_the_history_attributed_to_the_officer(officer_client, case, officer):
    posted = {**VALID_CASE, "ruc": case.ruc, "is_formalised": "", "formalised_date": "", "status": "suspendida"}

    officer_client.post(reverse("cases:edit", args=[case.pk]), {**posted, "version": 1})

    event = Case.pgh_event_model.objects.get(pgh_obj_id=case.pk, pgh_label="update")
    assert (event.status, event.version) == ("suspendida", 2)
    metadata = event.pgh_context.metadata
    assert (metadata["user"], metadata["institution"]) == (officer.pk, officer.institution_id)
    assert metadata["url"] == reverse("cases:edit", args=[case.pk])


def test_registering_an_offender_through_the_page_is_in_the_history(officer_client, case, officer):
    officer_client.post(reverse("cases:offender_create", args=[case.pk]), VALID_OFFENDER)

    link = CaseOffender.objects.get(case=case)
    (event,) = CaseOffender.pgh_event_model.objects.filter(pgh_obj_id=link.pk, pgh_label="insert")
    assert event.pgh_context.metadata["user"] == officer.pk
    assert not hasattr(Offender.pgh_event_model, "given_names")  # identity never copied into history
