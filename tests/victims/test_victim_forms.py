"""Registering a victim into a case, and editing one: what the officer sees and what is saved.

Case and offender pages: tests/cases/test_case_forms.py. Who may reach each page:
tests/access/test_access_matrix.py.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cases.services import case_create
from cases.sharing import case_share
from institutions.constants import Role
from kernel.constants import AccessAction
from kernel.identity_documents import document_blind_index
from kernel.models import AccessEvent
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, valid_run
from tests.forms_helpers import body, field_errors, grantee_officer
from victims.consent import consent_record
from victims.constants import AgeStatus
from victims.models import CaseVictim, Victim
from victims.services import victim_link_to_case, victim_register, victim_update

pytestmark = pytest.mark.django_db

DOCUMENT = valid_run(17_234_567)
WRONG_CHECK_DIGIT = DOCUMENT[:-1] + ("1" if DOCUMENT[-1] != "1" else "2")
VALID_VICTIM = {
    "given_names": "Matilde",
    "surnames": "Ccori Mamani",
    "document_type": "run",
    "document_number": DOCUMENT,
    "birth_date": "1998-04-12",
    "phone": "+56 9 8765 4321",
    "email": "matilde@example.cl",
    "address": "Pasaje Los Aromos 123, Iquique",
    "notes": "Habla aymara.",
    "sex": "femenino",
    "nationality": "BO",
    "birth_year": "",
    "age_at_identification": "24",
    "age_status": "conocida",
    "age_at_facts": "23",
    "purpose": "explotacion_sexual",
    "region_detected": "CL-TA",
    "identified_date": "2023-03-02",
}
MINOR = {
    **{name: "" for name in VALID_VICTIM},
    "sex": "femenino",
    "nationality": "PE",
    "age_status": "menor_sin_edad",
    "purpose": "explotacion_sexual",
    "region_detected": "CL-TA",
}


@pytest.fixture
def case(lead):
    return CaseFactory(lead_institution=lead)


def create_url(case) -> str:
    return reverse("victims:create", args=[case.pk])


def stored_bytes(victim_id, column: str) -> bytes | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM victims_victim WHERE id = %s", [victim_id])  # noqa: S608 (fixed names)
        value = cursor.fetchone()[0]
    return None if value is None else bytes(value)


# --- registering ------------------------------------------------------------------------------


def test_the_registration_page_labels_every_field_and_is_never_cached(officer_client, case):
    response = officer_client.get(create_url(case))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = body(response)
    for label in ("Nombres", "Número de documento", "Fecha de nacimiento", "Sexo", "Edad a la fecha de los hechos"):
        assert f">{label}" in html, label
    assert '<input type="date" name="birth_date"' in html
    assert '<option value="menor_sin_edad">Menor de edad, edad exacta desconocida</option>' in html
    assert 'value="explotacion_sexual" selected' in html  # the case's purpose, as the default


def test_an_officer_registers_a_victim_whose_identity_is_stored_encrypted(officer_client, case, lead):
    response = officer_client.post(create_url(case), VALID_VICTIM)

    assert response.status_code == 302 and response["Location"] == reverse("cases:victims", args=[case.pk])
    link = CaseVictim.objects.select_related("victim").get(case=case)
    victim = link.victim
    assert victim.code.startswith("V-") and victim.registering_institution == lead
    assert (victim.given_names, victim.document_number, victim.birth_date) == (
        "Matilde",
        DOCUMENT,
        datetime.date(1998, 4, 12),
    )
    assert victim.birth_year == 1998  # taken from the date of birth, for statistics
    assert (link.age_status, link.age_at_facts, link.is_minor) == (AgeStatus.KNOWN, 23, False)
    for column, plaintext in [
        ("given_names", b"Matilde"),
        ("surnames", b"Ccori"),
        ("document_number", b"17234567"),
        ("birth_date", b"1998"),
        ("phone", b"8765"),
        ("email", b"matilde@"),
        ("address", b"Aromos"),
        ("notes", b"aymara"),
    ]:
        assert plaintext not in stored_bytes(victim.pk, column), column
    assert stored_bytes(victim.pk, "document_index") == document_blind_index("run", DOCUMENT)


def test_an_officer_registers_a_minor_whose_exact_age_is_unknown(officer_client, case):
    response = officer_client.post(create_url(case), MINOR)

    assert response.status_code == 302
    link = CaseVictim.objects.get(case=case)
    assert (link.age_status, link.age_at_facts, link.is_minor) == (AgeStatus.MINOR_UNKNOWN, None, True)
    assert stored_bytes(link.victim_id, "given_names") is None


def test_a_minor_by_known_age_is_counted_as_a_minor(officer_client, case):
    officer_client.post(create_url(case), {**MINOR, "age_status": "conocida", "age_at_facts": "15"})

    assert CaseVictim.objects.get(case=case).is_minor is True


TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"document_number": WRONG_CHECK_DIGIT}, "document_number", "El dígito verificador del RUN no es válido."),
        ({"document_number": "abc"}, "document_number", "El RUN debe tener el formato 12.345.678-5"),
        ({"document_number": ""}, "document_number", "Indique el tipo y el número de documento, o ninguno"),
        ({"document_type": "cedula"}, "document_type", "Escoja una opción válida."),
        ({"birth_date": TOMORROW}, "birth_date", "La fecha no puede ser posterior a hoy."),
        ({"birth_date": "12-13-1998"}, "birth_date", "Introduzca una fecha válida."),
        ({"birth_year": "1997"}, "birth_year", "El año de nacimiento no coincide con la fecha de nacimiento."),
        ({"email": "matilde-en-gmail"}, "email", "Introduzca una dirección de correo electrónico válida."),
        ({"sex": "otro"}, "sex", "Escoja una opción válida."),
        ({"age_at_identification": "130"}, "age_at_identification", "menor o igual a 120"),
        ({"age_at_facts": ""}, "age_at_facts", "Indique la edad, o marque que es desconocida."),
        ({"age_status": "desconocida"}, "age_at_facts", "Solo se registra la edad en años cuando la edad es conocida."),
        ({"age_status": ""}, "age_status", "Este campo es requerido."),
        ({"identified_date": TOMORROW}, "identified_date", "La fecha no puede ser posterior a hoy."),
    ],
)
def test_each_bad_victim_field_is_refused_next_to_the_field_in_spanish_with_the_input_kept(
    officer_client, case, changes, field, message
):
    response = officer_client.post(create_url(case), {**VALID_VICTIM, **changes})

    assert response.status_code == 400
    assert any(message in error for error in field_errors(response, field)), response.context["form"].errors
    html = body(response)
    assert f'id="id_{field}_error"' in html and f'href="#id_{field}"' in html
    assert 'aria-invalid="true"' in html
    assert 'value="Ccori Mamani"' in html and "Habla aymara." in html  # the rest of the input is kept
    assert not Victim.objects.exists() and not CaseVictim.objects.exists()


def test_a_victim_is_not_saved_when_only_their_part_in_the_case_is_refused(officer_client, case):
    # The person's fields are valid and are written first; the case link is refused after
    # that, and the person goes with it: no victim without a case is left behind.
    response = officer_client.post(create_url(case), {**VALID_VICTIM, "age_at_facts": ""})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"age_at_facts"}
    assert not Victim.objects.exists() and not CaseVictim.objects.exists()


def test_errors_of_the_person_and_of_their_part_in_the_case_are_shown_together(officer_client, case):
    response = officer_client.post(create_url(case), {**VALID_VICTIM, "document_number": "1-1", "age_at_facts": ""})

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"document_number", "age_at_facts"}
    assert body(response).count('aria-invalid="true"') == 2


# --- the duplicate warning --------------------------------------------------------------------


@pytest.fixture
def registered_elsewhere():
    """The same person, in a case of another institution that this officer cannot see."""
    other = InstitutionFactory(name="Servicio Nacional de Migraciones", short_name="SERMIG")
    other_case = case_create(actor=None, lead_institution=other, data={"intake_date": datetime.date(2022, 5, 1)})
    victim = victim_register(
        actor=None, institution=other, given_names="Matilde", document_type="run",
        document_number="17234567-" + DOCUMENT[-1], sex="femenino",
    )  # fmt: skip
    victim_link_to_case(actor=None, victim=victim, case=other_case)
    return victim


def warning_url(case) -> str:
    return reverse("victims:duplicate_warning", args=[case.pk])


def link_url(case, victim) -> str:
    return reverse("victims:link", args=[case.pk, victim.pk])


def text(html: str) -> str:
    """The words of a page, as a reader gets them: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_the_document_field_asks_for_duplicates_by_post_into_a_live_region(officer_client, case):
    html = body(officer_client.get(create_url(case)))

    url = warning_url(case)
    assert url == f"/causas/{case.pk}/victimas/nueva/aviso/"  # no document in the URL: it travels in the body
    number_input = html[html.index('name="document_number"') - 300 : html.index('name="document_number"') + 300]
    assert f'hx-post="{url}"' in number_input and 'hx-trigger="change"' in number_input
    assert 'hx-target="#aviso-duplicado"' in number_input
    assert 'hx-params="document_type,document_number,csrfmiddlewaretoken"' in number_input
    assert '<div id="aviso-duplicado" class="duplicate-warning" role="status" aria-live="polite">' in html
    # The place the "Vincular" buttons are swapped into comes after "Registrar víctima", so that
    # Enter in a field registers rather than links.
    assert html.index(">Registrar víctima</button>") < html.index('id="acciones-vincular"')


def test_the_htmx_warning_names_the_institution_holding_the_person_and_is_audited(
    officer_client, case, registered_elsewhere
):
    response = officer_client.post(
        warning_url(case), {"document_type": "run", "document_number": DOCUMENT}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = body(response)
    assert "<html" not in html  # a fragment for the warning region
    assert "Servicio Nacional de Migraciones" in html
    assert registered_elsewhere.code not in html  # institution names only
    assert "Vincular" not in html  # a person the institution cannot identify is not offered
    assert 'name="confirm_duplicate"' in html and "Registrar de todas formas" in html
    event = AccessEvent.objects.get(action=AccessAction.DUPLICATE_FOUND)
    assert event.details == {"institutions": ["Servicio Nacional de Migraciones"]}
    assert DOCUMENT not in str(event.details)
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).exists()


# What the duplicate warning writes to the access log.
CHECK_ACTIONS = (AccessAction.DUPLICATE_FOUND, AccessAction.IDENTITY_READ)
EMPTY_LINK_ACTIONS = '<div id="acciones-vincular" class="link-actions" hx-swap-oob="true"></div>'


@pytest.mark.parametrize("number", [valid_run(5_555_555), "", "12.345.678-0"])
def test_the_htmx_warning_is_empty_for_an_unknown_or_unreadable_document(
    officer_client, case, registered_elsewhere, number
):
    posted = {"document_type": "run", "document_number": number}

    response = officer_client.post(warning_url(case), posted)

    assert response.status_code == 200
    # Both regions come back empty, so a warning shown for the previous document goes away.
    assert text(body(response)) == "" and EMPTY_LINK_ACTIONS in body(response).replace("\n", "")
    assert not AccessEvent.objects.filter(action__in=CHECK_ACTIONS).exists()


def test_the_duplicate_warning_takes_no_get_and_no_reader(client, case, lead):
    client.force_login(UserFactory(institution=lead, role=Role.READER))
    posted = {"document_type": "run", "document_number": DOCUMENT}

    assert client.get(warning_url(case), posted).status_code == 405
    assert client.post(warning_url(case), posted).status_code == 403


def test_submitting_a_possible_duplicate_warns_instead_of_saving(officer_client, case, registered_elsewhere):
    response = officer_client.post(create_url(case), VALID_VICTIM)

    assert response.status_code == 409
    html = body(response)
    assert "Servicio Nacional de Migraciones" in html and "Registrar de todas formas" in html
    assert 'href="#aviso-duplicado"' in html  # the alert at the top leads to the warning
    assert 'value="Ccori Mamani"' in html  # nothing typed is lost
    assert not CaseVictim.objects.filter(case=case).exists()
    assert Victim.objects.count() == 1  # only the other institution's


def test_confirming_registers_the_person_anyway(officer_client, case, registered_elsewhere):
    response = officer_client.post(create_url(case), {**VALID_VICTIM, "confirm_duplicate": "on"})

    assert response.status_code == 302
    link = CaseVictim.objects.select_related("victim").get(case=case)
    assert link.victim.document_index == registered_elsewhere.document_index
    assert link.victim_id != registered_elsewhere.pk


# --- a person the institution already knows: named, and linked instead of registered again ----


def register_known(institution, case=None, **fields) -> Victim:
    """The same person, registered by ``institution`` (in ``case``, or with no case)."""
    victim = victim_register(
        actor=None, institution=institution, given_names="Matilde", surnames="Ccori", document_type="run",
        document_number=DOCUMENT, sex="femenino", nationality="BO", **fields,
    )  # fmt: skip
    if case is not None:
        victim_link_to_case(actor=None, victim=victim, case=case)
    return victim


@pytest.fixture
def other_case(lead):
    return CaseFactory(lead_institution=lead)


@pytest.fixture
def known(lead, other_case) -> Victim:
    """The person, already a victim of another case of the same institution."""
    return register_known(lead, other_case)


def test_the_htmx_warning_names_a_known_victim_by_code_and_case_and_offers_to_link(
    officer_client, case, other_case, known, officer
):
    response = officer_client.post(warning_url(case), {"document_type": "run", "document_number": DOCUMENT})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = body(response)
    assert f"Esta persona ya está registrada como {known.code} en la causa {other_case.ruc}." in text(html)
    assert f'href="{reverse("victims:detail", args=[known.pk])}"' in html
    assert f'href="{reverse("cases:detail", args=[other_case.pk])}"' in html
    # "Vincular a esta víctima" goes among the form's buttons, out of band, and posts the form
    # to the link action: a URL with the victim's id, never the document.
    actions = html[html.index('id="acciones-vincular"') :]
    assert 'hx-swap-oob="true"' in actions
    assert f'formaction="{link_url(case, known)}"' in actions and "Vincular a esta víctima" in actions
    assert DOCUMENT not in html and "17234567" not in html
    # Naming the victim ties the document to the code: an identity read, the document not logged.
    (event,) = AccessEvent.objects.filter(action__in=CHECK_ACTIONS)
    assert (event.action, event.victim_code, event.actor_id) == (AccessAction.IDENTITY_READ, known.code, officer.pk)
    assert event.details == {"fields": ["document_type", "document_number"], "check": "duplicate"}
    assert not event.rests_on_legal_basis


def test_submitting_a_known_person_without_javascript_offers_to_link_and_saves_nothing(
    officer_client, case, other_case, known
):
    response = officer_client.post(create_url(case), VALID_VICTIM)

    assert response.status_code == 409
    html = body(response)
    assert f"Esta persona ya está registrada como {known.code} en la causa {other_case.ruc}." in text(html)
    assert f'formaction="{link_url(case, known)}"' in html
    assert 'href="#aviso-duplicado"' in html and 'value="Ccori Mamani"' in html
    assert html.index(">Registrar víctima</button>") < html.index(f'formaction="{link_url(case, known)}"')
    assert Victim.objects.count() == 1 and not CaseVictim.objects.filter(case=case).exists()


def test_linking_makes_the_known_person_a_victim_of_this_case_without_registering_them_again(
    officer_client, case, other_case, known, officer
):
    # The whole form comes along (the button's formaction): only its "En esta causa" answers are
    # taken; the person's record stays as it was registered.
    posted = {**VALID_VICTIM, "given_names": "Otro nombre", "nationality": "PE", "birth_date": TOMORROW}

    response = officer_client.post(link_url(case, known), posted)

    assert response.status_code == 302 and response["Location"] == reverse("cases:victims", args=[case.pk])
    assert DOCUMENT not in response["Location"]
    assert Victim.objects.count() == 1
    link = CaseVictim.objects.get(case=case)
    assert link.victim_id == known.pk
    assert (link.age_status, link.age_at_facts, link.purpose, link.region_detected) == (
        AgeStatus.KNOWN,
        23,
        "explotacion_sexual",
        "CL-TA",
    )
    assert link.identified_date == datetime.date(2023, 3, 2)
    victim = Victim.objects.get(pk=known.pk)
    assert (victim.given_names, victim.nationality.code, victim.version) == ("Matilde", "BO", known.version)
    assert CaseVictim.objects.filter(victim=known).count() == 2  # still a victim of the other case
    (event,) = CaseVictim.pgh_event_model.objects.filter(pgh_obj_id=link.pk, pgh_label="insert")
    assert event.pgh_context.metadata["user"] == officer.pk  # in the case's history, by whom
    messages = [str(message) for message in response.wsgi_request._messages]
    assert messages == [f"Víctima {known.code} vinculada a la causa."]


def test_a_bad_answer_about_this_case_keeps_the_link_form_as_sent_and_links_nothing(officer_client, case, known):
    response = officer_client.post(link_url(case, known), {**VALID_VICTIM, "age_at_facts": ""})

    assert response.status_code == 400
    assert field_errors(response, "age_at_facts") == ["Indique la edad, o marque que es desconocida."]
    html = body(response)
    assert 'value="Ccori Mamani"' in html and "Habla aymara." in html
    assert f'formaction="{link_url(case, known)}"' in html  # the warning, to try again
    assert not CaseVictim.objects.filter(case=case).exists()


def test_a_person_registered_without_a_case_by_the_institution_is_offered_too(officer_client, case, lead):
    victim = register_known(lead)

    html = body(officer_client.post(warning_url(case), {"document_type": "run", "document_number": DOCUMENT}))

    assert f"Esta persona ya está registrada como {victim.code} sin causa (Protocolo de Atención)." in text(html)
    assert f'formaction="{link_url(case, victim)}"' in html
    assert officer_client.post(link_url(case, victim), VALID_VICTIM).status_code == 302
    assert CaseVictim.objects.get(case=case).victim_id == victim.pk


def test_a_known_person_also_held_where_the_officer_cannot_see_is_told_both_ways(
    officer_client, case, known, registered_elsewhere
):
    html = text(body(officer_client.post(warning_url(case), {"document_type": "run", "document_number": DOCUMENT})))

    assert f"registrada como {known.code}" in html
    assert "figura en registros de: Servicio Nacional de Migraciones" in html
    assert registered_elsewhere.code not in html


# --- the same person twice in one case is refused ------------------------------------------------


@pytest.fixture
def in_this_case(lead, case) -> Victim:
    return register_known(lead, case)


def test_the_htmx_warning_says_the_person_is_already_a_victim_of_this_case(officer_client, case, in_this_case):
    html = body(officer_client.post(warning_url(case), {"document_type": "run", "document_number": DOCUMENT}))

    assert f"Esta persona ya está registrada como {in_this_case.code} en la causa {case.ruc}." in text(html)
    assert "Ya es víctima de esta causa: no se puede registrar otra vez." in text(html)
    assert "Vincular" not in html and "confirm_duplicate" not in html


@pytest.mark.parametrize("confirmed", [False, True], ids=["as-typed", "confirmed-anyway"])
def test_registering_a_victim_of_this_case_again_is_refused_on_the_document(
    officer_client, case, in_this_case, confirmed
):
    posted = {**VALID_VICTIM, **({"confirm_duplicate": "on"} if confirmed else {})}

    response = officer_client.post(create_url(case), posted)

    assert response.status_code == 400
    message = f"Esta persona ya es víctima de esta causa, como {in_this_case.code}: no se puede registrar otra vez."
    assert field_errors(response, "document_number") == [message]
    html = body(response)
    assert 'id="id_document_number_error"' in html and 'href="#id_document_number"' in html
    assert 'value="Ccori Mamani"' in html
    assert Victim.objects.count() == 1 and CaseVictim.objects.filter(case=case).count() == 1


def test_linking_a_victim_already_in_the_case_is_refused_on_the_document(officer_client, case, in_this_case):
    response = officer_client.post(link_url(case, in_this_case), VALID_VICTIM)

    assert response.status_code == 400
    assert field_errors(response, "document_number") == [
        f"Esta persona ya es víctima de esta causa, como {in_this_case.code}: no se puede registrar otra vez."
    ]
    assert CaseVictim.objects.filter(case=case).count() == 1


# --- what a person seen only at *ver*, or not at all, gives away: nothing -----------------------


@pytest.fixture
def seen_at_ver(officer) -> Victim:
    """The same person in another institution's case, shared with the officer's at *ver*."""
    other = InstitutionFactory(name="Fiscalía Regional de Tarapacá")
    other_case = CaseFactory(lead_institution=other)
    sharer = UserFactory(institution=other, role=Role.CASE_OFFICER)
    case_share(actor=sharer, case_id=other_case.pk, institution=officer.institution, reason="Coordinación")
    return register_known(other, other_case)


def test_a_person_seen_only_at_ver_is_not_revealed_and_may_be_registered(officer_client, case, seen_at_ver):
    response = officer_client.post(warning_url(case), {"document_type": "run", "document_number": DOCUMENT})

    assert text(body(response)) == ""  # as for a person nobody registered
    assert not AccessEvent.objects.filter(action__in=CHECK_ACTIONS).exists()
    assert officer_client.post(create_url(case), VALID_VICTIM).status_code == 302
    assert CaseVictim.objects.select_related("victim").get(case=case).victim_id != seen_at_ver.pk


def test_a_person_seen_only_at_ver_cannot_be_linked_into_a_case_the_institution_leads(
    officer_client, case, seen_at_ver
):
    # Linking would make the officer's institution a lead of one of the victim's cases, and so
    # give it the identity its *ver* grant does not.
    assert officer_client.post(link_url(case, seen_at_ver), VALID_VICTIM).status_code == 403
    assert not CaseVictim.objects.filter(case=case).exists()


def test_a_person_in_a_case_the_officer_cannot_see_cannot_be_linked(officer_client, case, registered_elsewhere):
    assert officer_client.post(link_url(case, registered_elsewhere), VALID_VICTIM).status_code == 404
    assert not CaseVictim.objects.filter(case=case).exists()


def test_a_reader_and_a_collaborator_without_identity_access_can_neither_ask_nor_link(
    client, case, lead, officer, known
):
    posted = {"document_type": "run", "document_number": DOCUMENT}
    client.force_login(UserFactory(institution=lead, role=Role.READER))
    assert client.post(link_url(case, known), VALID_VICTIM).status_code == 403
    client.force_login(grantee_officer(case, officer, can_collaborate=True))
    assert client.post(warning_url(case), posted).status_code == 403
    assert client.post(link_url(case, known), VALID_VICTIM).status_code == 404  # a case it does not see
    assert not CaseVictim.objects.filter(case=case).exists()
    assert not AccessEvent.objects.filter(action__in=CHECK_ACTIONS).exists()


def test_a_grantee_on_a_legal_basis_sees_a_victim_of_the_shared_case_as_known_and_the_read_says_so(
    client, case, officer, lead
):
    victim = register_known(lead, CaseFactory(lead_institution=lead))
    grantee = grantee_officer(case, officer, can_collaborate=True, can_view_identity=True, legal_basis="Oficio 4/2024")
    victim_link_to_case(actor=None, victim=victim, case=case)
    new_case = CaseFactory(lead_institution=grantee.institution)
    client.force_login(grantee)

    html = body(client.post(warning_url(new_case), {"document_type": "run", "document_number": DOCUMENT}))

    assert f"registrada como {victim.code} en la causa {case.ruc}." in text(html)  # not the lead's other case
    assert f'formaction="{link_url(new_case, victim)}"' in html
    assert AccessEvent.objects.get(action=AccessAction.IDENTITY_READ).rests_on_legal_basis is True


# --- who may ----------------------------------------------------------------------------------


def test_a_reader_cannot_register_a_victim(client, case, lead):
    client.force_login(UserFactory(institution=lead, role=Role.READER))

    assert client.get(create_url(case)).status_code == 403
    assert client.post(create_url(case), VALID_VICTIM).status_code == 403
    assert not Victim.objects.exists()


def test_an_officer_of_another_institution_gets_404(client, case):
    client.force_login(UserFactory(institution=InstitutionFactory(), role=Role.CASE_OFFICER))

    assert client.get(create_url(case)).status_code == 404
    assert client.post(create_url(case), VALID_VICTIM).status_code == 404
    assert not Victim.objects.exists()


def test_a_collaborator_without_identity_access_registers_statistics_only(client, case, officer):
    client.force_login(grantee_officer(case, officer, can_collaborate=True))

    page = client.get(create_url(case))
    assert page.status_code == 200
    assert 'name="given_names"' not in body(page) and "aviso-duplicado" not in body(page)
    response = client.post(create_url(case), VALID_VICTIM)  # identity sent anyway is not taken

    assert response.status_code == 302
    victim = CaseVictim.objects.select_related("victim").get(case=case).victim
    assert (victim.sex, victim.nationality.code) == ("femenino", "BO")
    assert stored_bytes(victim.pk, "given_names") is None and victim.document_index is None


def test_identity_access_resting_on_consents_does_not_extend_to_a_new_victim(client, case, officer):
    first = victim_register(actor=None, institution=officer.institution, sex="femenino")
    victim_link_to_case(actor=None, victim=first, case=case)
    consent = consent_record(actor=officer, victim_id=first.pk, given_on=datetime.date(2024, 1, 5), scope="ONG")
    client.force_login(
        grantee_officer(case, officer, can_collaborate=True, can_view_identity=True, consent_ids=[consent.pk])
    )

    assert 'name="given_names"' not in body(client.get(create_url(case)))


def test_a_grantee_with_identity_on_a_legal_basis_registers_identity(client, case, officer):
    client.force_login(
        grantee_officer(case, officer, can_collaborate=True, can_view_identity=True, legal_basis="Oficio 4/2024")
    )

    assert client.post(create_url(case), MINOR | {"given_names": "Rosa"}).status_code == 302
    assert CaseVictim.objects.select_related("victim").get(case=case).victim.given_names == "Rosa"


# --- editing ----------------------------------------------------------------------------------


@pytest.fixture
def link(case, lead):
    victim = victim_register(
        actor=None, institution=lead, given_names="Matilde", surnames="Ccori", document_type="run",
        document_number=DOCUMENT, sex="femenino", nationality="BO",
    )  # fmt: skip
    return victim_link_to_case(actor=None, victim=victim, case=case, age_status=AgeStatus.UNKNOWN)


def edit_url(link) -> str:
    return reverse("victims:edit", args=[link.case_id, link.victim_id])


STATISTICAL_EDIT = {
    "sex": "femenino",
    "nationality": "PE",
    "birth_year": "",
    "age_at_identification": "",
    "age_status": "menor_sin_edad",
    "age_at_facts": "",
    "purpose": "trabajo_forzoso",
    "region_detected": "CL-AN",
    "identified_date": "",
}


def test_the_edit_page_shows_statistics_and_the_version_but_no_identity(officer_client, link):
    response = officer_client.get(edit_url(link))

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = body(response)
    assert "Matilde" not in html and 'name="given_names"' not in html
    assert '<option value="BO" selected>' in html
    assert '<input type="hidden" name="version" value="1"' in html
    assert "Mostrar y corregir la identidad" in html
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).exists()


def test_an_officer_edits_a_victims_statistics_and_identity_is_left_alone(officer_client, link):
    response = officer_client.post(edit_url(link), {**STATISTICAL_EDIT, "version": 1})

    assert response.status_code == 302 and response["Location"] == reverse("cases:victims", args=[link.case_id])
    fresh = CaseVictim.objects.select_related("victim").get(pk=link.pk)
    assert (fresh.victim.nationality.code, fresh.victim.version, fresh.victim.given_names) == ("PE", 2, "Matilde")
    assert (fresh.is_minor, fresh.purpose, fresh.region_detected) == (True, "trabajo_forzoso", "CL-AN")


def test_showing_the_identity_to_correct_it_is_audited_and_the_correction_is_encrypted(officer_client, link):
    revealed = officer_client.post(edit_url(link), {"accion": "mostrar_identidad"})

    assert revealed.status_code == 200 and 'value="Matilde"' in body(revealed)
    event = AccessEvent.objects.get(action=AccessAction.IDENTITY_READ)
    assert event.victim_code == link.victim.code
    new_document = valid_run(17_999_999)
    corrected = {
        **STATISTICAL_EDIT,
        "con_identidad": "1",
        "given_names": "Matilda",
        "surnames": "Ccori",
        "document_type": "run",
        "document_number": new_document,
        "version": 1,
    }

    assert officer_client.post(edit_url(link), corrected).status_code == 302
    victim = Victim.objects.get(pk=link.victim_id)
    assert (victim.given_names, victim.document_number) == ("Matilda", new_document)
    assert b"Matilda" not in stored_bytes(victim.pk, "given_names")
    assert stored_bytes(victim.pk, "document_index") == document_blind_index("run", new_document)


def test_a_bad_edit_is_refused_on_its_field_and_changes_nothing(officer_client, link):
    response = officer_client.post(edit_url(link), {**STATISTICAL_EDIT, "age_status": "conocida", "version": 1})

    assert response.status_code == 400
    assert field_errors(response, "age_at_facts") == ["Indique la edad, o marque que es desconocida."]
    assert 'value="conocida" selected' in body(response)
    victim = Victim.objects.get(pk=link.victim_id)
    assert (victim.version, victim.nationality.code) == (1, "BO")


def test_a_victim_edit_over_someone_elses_save_answers_409_and_overwrites_nothing(officer_client, link, lead):
    colleague = UserFactory(institution=lead, role=Role.CASE_OFFICER)
    victim_update(
        actor=colleague, case_id=link.case_id, victim_id=link.victim_id, expected_version=1,
        data={"nationality": "AR"}, link_data={},
    )  # fmt: skip

    response = officer_client.post(edit_url(link), {**STATISTICAL_EDIT, "version": 1})

    assert response.status_code == 409
    html = body(response)
    assert (
        "Otra persona modificó esta víctima mientras usted la editaba. "
        "Revise los cambios actuales y vuelva a aplicar los suyos."
    ) in html
    assert '<option value="AR" selected>' in html and 'name="version" value="2"' in html
    assert '<th scope="row">Nacionalidad</th><td>Perú</td><td>Argentina</td>' in html
    victim = Victim.objects.get(pk=link.victim_id)
    assert (victim.nationality.code, victim.version) == ("AR", 2)
    assert CaseVictim.objects.get(pk=link.pk).purpose != "trabajo_forzoso"


def test_a_collaborator_without_identity_access_cannot_write_a_victims_identity(client, case, officer, link):
    client.force_login(grantee_officer(case, officer, can_collaborate=True))

    assert "Mostrar y corregir la identidad" not in body(client.get(edit_url(link)))
    assert client.post(edit_url(link), {"accion": "mostrar_identidad"}).status_code == 403
    posted = {**STATISTICAL_EDIT, "con_identidad": "1", "given_names": "Otra", "version": 1}
    assert client.post(edit_url(link), posted).status_code == 403
    victim = Victim.objects.get(pk=link.victim_id)
    assert (victim.given_names, victim.version) == ("Matilde", 1)


def test_a_reader_cannot_edit_a_victim_and_another_institution_gets_404(client, link, lead):
    client.force_login(UserFactory(institution=lead, role=Role.READER))
    assert client.get(edit_url(link)).status_code == 403
    client.force_login(UserFactory(institution=InstitutionFactory(), role=Role.CASE_OFFICER))
    assert client.post(edit_url(link), {**STATISTICAL_EDIT, "version": 1}).status_code == 404
    assert Victim.objects.get(pk=link.victim_id).version == 1


def test_a_victim_of_another_case_is_not_found_through_this_case(officer_client, link, lead):
    other_case = CaseFactory(lead_institution=lead)

    assert officer_client.get(reverse("victims:edit", args=[other_case.pk, link.victim_id])).status_code == 404


def test_an_edit_through_the_page_is_in_the_history_without_identity(officer_client, link, officer):
    officer_client.post(edit_url(link), {**STATISTICAL_EDIT, "version": 1})

    (event,) = Victim.pgh_event_model.objects.filter(pgh_obj_id=link.victim_id, pgh_label="update")
    assert (event.nationality, event.version) == ("PE", 2)
    assert event.pgh_context.metadata["user"] == officer.pk
    assert not hasattr(event, "given_names") and not hasattr(event, "document_index")
    (link_event,) = CaseVictim.pgh_event_model.objects.filter(pgh_obj_id=link.pk, pgh_label="update")
    assert link_event.age_status == AgeStatus.MINOR_UNKNOWN


def test_an_edit_cannot_give_a_victim_the_document_of_another_victim_of_the_case(link, case, lead):
    from django.core.exceptions import ValidationError

    other = victim_register(
        actor=None, institution=lead, given_names="Otra", surnames="Persona", document_type="run",
        document_number=valid_run(13_131_313), sex="femenino",
    )  # fmt: skip
    victim_link_to_case(actor=None, victim=other, case=case, age_status=AgeStatus.UNKNOWN)
    officer = UserFactory(institution=lead, role=Role.CASE_OFFICER)

    with pytest.raises(ValidationError) as refused:
        victim_update(
            actor=officer, case_id=case.pk, victim_id=other.pk, expected_version=1,
            data={"document_type": "run", "document_number": DOCUMENT}, link_data={},
        )  # fmt: skip

    assert link.victim.code in refused.value.message_dict["document_number"][0]
    other.refresh_from_db()
    assert other.version == 1 and other.document_number == valid_run(13_131_313)
    # Re-saving a victim's own document is no conflict.
    victim_update(
        actor=officer, case_id=case.pk, victim_id=link.victim_id, expected_version=1,
        data={"document_type": "run", "document_number": DOCUMENT, "nationality": "PE"}, link_data={},
    )  # fmt: skip
    assert Victim.objects.get(pk=link.victim_id).version == 2
