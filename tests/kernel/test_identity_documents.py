import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

from kernel.identity_documents import (
    DocumentType,
    document_blind_index,
    format_run,
    normalise_document,
    normalise_run,
    run_check_digit,
)
from tests.factories import VictimFactory
from victims.models import Victim

bodies = st.integers(min_value=1, max_value=199_999_999)


def reference_check_digit(body: int) -> str:
    """Independent módulo-11 implementation, straight from the definition."""
    digits = [int(d) for d in reversed(str(body))]
    weights = [2, 3, 4, 5, 6, 7]
    total = sum(d * weights[i % 6] for i, d in enumerate(digits))
    value = 11 - total % 11
    return "0" if value == 11 else "K" if value == 10 else str(value)


@st.composite
def typed_runs(draw):
    """A valid RUN typed the way people type it: dots or not, hyphen or not, zeros, k or K."""
    body = draw(bodies)
    check = run_check_digit(body)
    text = f"{body:,}".replace(",", ".") if draw(st.booleans()) else str(body)
    text = "0" * draw(st.integers(0, 2)) + text
    separator = draw(st.sampled_from(["-", "", " ", " - "]))
    check = check.lower() if draw(st.booleans()) else check
    padding = draw(st.sampled_from(["", " "]))
    return body, f"{padding}{text}{separator}{check}{padding}"


@given(bodies)
def test_check_digit_matches_the_modulo_11_definition(body):
    assert run_check_digit(body) == reference_check_digit(body)


@pytest.mark.parametrize(
    ("run", "canonical"),
    [("12.345.678-5", "123456785"), ("11.111.111-1", "111111111"), ("7.775.542-K", "7775542K"), ("6-K", "6K")],
)
def test_known_runs_normalise(run, canonical):
    assert normalise_run(run) == canonical


@given(typed_runs())
def test_every_way_of_typing_a_valid_run_normalises_to_the_same_value(typed):
    body, text = typed
    assert normalise_run(text) == f"{body}{run_check_digit(body)}"


@given(bodies, st.sampled_from("0123456789K"))
def test_a_run_with_a_wrong_check_digit_is_always_refused(body, check):
    assume(check != run_check_digit(body))
    with pytest.raises(ValidationError) as error:
        normalise_run(f"{body}-{check}")
    assert error.value.code == "run_check_digit"


@given(bodies)
def test_formatting_a_normalised_run_and_normalising_it_again_is_stable(body):
    canonical = f"{body}{run_check_digit(body)}"
    assert normalise_run(format_run(canonical)) == canonical


@given(st.text(max_size=15))
def test_text_that_is_not_a_run_never_passes_silently(text):
    try:
        canonical = normalise_run(text)
    except ValidationError:
        return
    body, check = int(canonical[:-1]), canonical[-1]
    assert run_check_digit(body) == check


@pytest.mark.parametrize("text", ["", "-", "0-0", "00000000-0", "12.345.678", "abc-d", "12.345.678-55"])
def test_malformed_runs_are_refused_with_a_spanish_message(text):
    with pytest.raises(ValidationError, match="RUN"):
        normalise_run(text)


def test_passport_numbers_ignore_case_spaces_and_hyphens():
    assert normalise_document(DocumentType.PASSPORT, "ab 123-456") == normalise_document(
        DocumentType.PASSPORT, "AB123456"
    )


def test_blind_index_is_equal_for_the_same_run_typed_differently():
    assert document_blind_index("run", "12.345.678-5") == document_blind_index("run", "0123456785")


def test_blind_index_differs_between_document_types_and_numbers():
    indexes = {
        document_blind_index("run", "12.345.678-5"),
        document_blind_index("pasaporte", "123456785"),
        document_blind_index("documento_extranjero", "123456785"),
        document_blind_index("run", "11.111.111-1"),
    }
    assert len(indexes) == 4


def test_blind_index_depends_on_the_secret(settings):
    before = document_blind_index("run", "12.345.678-5")
    settings.BLIND_INDEX_KEY = "T" * 43 + "="
    assert document_blind_index("run", "12.345.678-5") != before


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["12.345.678-5", "12345678-5", "123456785", "012.345.678-5", " 12345678 - 5 "])
def test_a_person_is_found_by_differently_formatted_runs(typed):
    victim = VictimFactory(document_number="12.345.678-5")
    VictimFactory(document_number="11.111.111-1")
    found = Victim.objects.filter(document_index=document_blind_index("run", typed))
    assert list(found) == [victim]


@pytest.mark.django_db
def test_the_document_index_is_an_indexed_exact_match():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'victims_victim'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "(document_index)" in definitions
