import datetime

import factory

from cases.access import grant_permissions
from cases.constants import CasePermission, CaseStatus, TraffickingPurpose
from cases.models import Case, Offender
from institutions.constants import InstitutionKind, Role
from institutions.models import Institution, User
from kernel.choices import FiscaliaRegional, Region, Sex
from kernel.identity_documents import DocumentType, run_check_digit
from kernel.pseudonyms import allocate_code
from victims.models import Victim


def valid_run(body: int) -> str:
    return f"{body:,}".replace(",", ".") + f"-{run_check_digit(body)}"


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    name = factory.Sequence(lambda n: f"Institución de prueba {n}")
    short_name = factory.Sequence(lambda n: f"INST{n}")
    kind = InstitutionKind.POLICE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"usuario{n}")
    institution = factory.SubFactory(InstitutionFactory)
    role = Role.CASE_OFFICER
    password = factory.django.Password("clave-de-prueba-segura")


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case
        skip_postgeneration_save = True

    ruc = factory.Sequence(lambda n: f"23{n:08d}-{n % 10}")
    intake_date = datetime.date(2023, 3, 1)
    status = CaseStatus.OPEN
    purpose = TraffickingPurpose.SEXUAL
    region_detected = Region.TARAPACA
    fiscalia_regional = FiscaliaRegional.TARAPACA
    lead_institution = factory.SubFactory(InstitutionFactory)

    @factory.post_generation
    def lead_permissions(case, create, extracted, **kwargs):
        # What cases.services.case_create does: the lead institution holds every permission.
        if create:
            grant_permissions(case.lead_institution, case, CasePermission.LEAD)


class VictimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Victim

    code = factory.LazyFunction(lambda: allocate_code("V"))
    given_names = "Ana"
    surnames = "Pérez"
    document_type = DocumentType.RUN
    document_number = factory.Sequence(lambda n: valid_run(10_000_000 + n))
    birth_date = datetime.date(1995, 5, 17)
    sex = Sex.FEMALE
    nationality = "BO"
    registering_institution = factory.SubFactory(InstitutionFactory)


class OffenderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offender

    code = factory.LazyFunction(lambda: allocate_code("I"))
    given_names = "Juan"
    surnames = "Soto"
    sex = Sex.MALE
    nationality = "CL"
