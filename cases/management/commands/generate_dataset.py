"""``manage.py generate_dataset --cases N``: synthetic volume for benchmarks.

Writes with ``bulk_create``, one transaction per batch, skipping the services' per-row
validation: every value is built to satisfy the models' rules and the database checks the
constraints anyway. ``bulk_create`` runs each field's ``pre_save``, so identity is encrypted
and the document blind index computed exactly as on ``save()``.

Synthetic RUCs are ``YY9NNNNNNN-D``: the third digit 9 marks the synthetic block, and each run
continues after the highest synthetic RUC of each year, so repeated runs never collide.
Two runs at the same time against one database would (the RUC is unique: the later one fails).

Access is written the same way, as ``cases.services.case_create`` and ``cases.sharing.case_share``
would leave it: the lead institution's group holds the four lead permissions on each case, and
0-3 other institutions (1.2 on average) hold a share (``CaseShare``) mirrored by their group's
permissions (*ver* always, *ver identidad* on a stated legal basis for about one share in five,
*colaborar* for about one in three). About one share in twenty has since been revoked (an
update after the insert, as a real revocation) and grants nothing. Shares are granted by one
synthetic case officer per lead institution (``sintetico.<sigla>``, active, with no usable
password: nobody signs in as them).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from cases import demo_data as gen
from cases.access import institution_group, permission_id
from cases.constants import CasePermission, ExternalSource, TerminationType
from cases.models import Case, CaseExternalReference, CaseGroupObjectPermission, CaseOffender, CaseShare, Offender
from institutions.constants import InstitutionKind, Role
from institutions.models import Institution, User
from kernel.choices import Region
from kernel.pseudonyms import allocate_codes
from victims.constants import AgeStatus
from victims.models import CaseVictim, Victim

SYNTHETIC_BLOCK = 90_000_000  # serial part of a RUC: 90000000-99999999 are synthetic
SYNTHETIC_BLOCK_END = 99_999_999
LEAD_WEIGHT = {
    InstitutionKind.POLICE: 6,
    InstitutionKind.PROSECUTION: 6,
    InstitutionKind.MIGRATION: 2,
    InstitutionKind.CHILD_PROTECTION: 1.5,
    InstitutionKind.NGO: 1.5,
}
SYNTHETIC_KINDS = (InstitutionKind.PUBLIC_SERVICE, InstitutionKind.NGO, InstitutionKind.CHILD_PROTECTION)
# Who a case is shared with: the prosecution and the police most, then migration, child
# protection and victim support.
GRANTEE_WEIGHT = {
    InstitutionKind.PROSECUTION: 8,
    InstitutionKind.POLICE: 5,
    InstitutionKind.MIGRATION: 4,
    InstitutionKind.CHILD_PROTECTION: 2.5,
    InstitutionKind.NGO: 2,
    InstitutionKind.INTERNATIONAL: 2,
    InstitutionKind.PUBLIC_SERVICE: 1.5,
    InstitutionKind.MINISTRY: 0.5,
    InstitutionKind.JUDICIARY: 0.5,
}
SHARES_PER_CASE = gen.WeightedChoice({0: 30, 1: 33, 2: 22, 3: 15})  # mean 1.22
SHARE_IDENTITY = 0.2
SHARE_COLLABORATE = 0.3
SHARE_REVOKED = 0.05
SHARE_REASON = "Compartida para coordinación (datos sintéticos)"
SHARE_LEGAL_BASIS = "Instrucción del fiscal a cargo de coordinar la protección de las víctimas (datos sintéticos)"
REVOKE_REASON = "Coordinación terminada (datos sintéticos)"
GENERATOR_USER_PREFIX = "sintetico."
# Cases per transaction. Small on purpose: every row written fires a history trigger
# (kernel.history) whose PL/pgSQL exception block opens a subtransaction, and on PostgreSQL the
# cost of each one grows with the number already run in the same transaction. 500 cases (about
# 8,000 rows) per transaction keeps that small; 2,000 cases (33,000 rows) made the run much slower.
DEFAULT_BATCH_SIZE = 500


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def ensure_institutions(target: int) -> list[Institution]:
    """Every active institution, topped up with "Institución sintética NN" to reach ``target``."""
    active = Institution.objects.filter(is_active=True).count()
    number = 0
    while active < target:
        number += 1
        _, created = Institution.objects.get_or_create(
            short_name=f"SINT-{number:02d}",
            defaults={
                "name": f"Institución sintética {number:02d}",
                "kind": SYNTHETIC_KINDS[number % len(SYNTHETIC_KINDS)],
                "region": Region.values[number % (len(Region.values) - 1)],  # never "sin información"
                "is_mitp_member": False,
            },
        )
        active += created
    return list(Institution.objects.filter(is_active=True).order_by("short_name"))


def ensure_generator_users(institutions: list[Institution]) -> dict[int, int]:
    """Per institution, the id of its synthetic case officer (created once, reused by later runs)."""
    usernames = {f"{GENERATOR_USER_PREFIX}{i.short_name.lower()}": i for i in institutions}
    existing = dict(User.objects.filter(username__in=usernames).values_list("username", "id"))
    missing = []
    for username, institution in usernames.items():
        if username not in existing:
            user = User(
                username=username,
                first_name="Usuario sintético",
                last_name=institution.short_name,
                institution=institution,
                role=Role.CASE_OFFICER,
            )
            user.set_unusable_password()
            missing.append(user)
    User.objects.bulk_create(missing)
    existing.update((user.username, user.pk) for user in missing)
    return {institution.pk: existing[username] for username, institution in usernames.items()}


class SyntheticAccess:
    """The grant rows of a batch of cases: the lead's permissions, and shares with their permissions.

    Draws from a generator of its own, so adding access left the cases, victims and offenders of
    a given seed exactly as they were.
    """

    def __init__(self, rng: random.Random, institutions: list[Institution]):
        self.rng = rng
        self.groups = {institution.pk: institution_group(institution).pk for institution in institutions}
        self.officers = ensure_generator_users(institutions)
        self.grantee = gen.WeightedChoice({i.pk: GRANTEE_WEIGHT.get(i.kind, 1) for i in institutions})
        self.permission = {codename: permission_id(codename) for codename in CasePermission.LEAD}

    def _grants(self, institution_id: int, case_id: int, codenames) -> list[CaseGroupObjectPermission]:
        group_id = self.groups[institution_id]
        return [
            CaseGroupObjectPermission(
                group_id=group_id, permission_id=self.permission[codename], content_object_id=case_id
            )
            for codename in codenames
        ]

    def _grantees(self, lead_id: int) -> list[int]:
        wanted = SHARES_PER_CASE(self.rng)
        chosen: list[int] = []
        while len(chosen) < wanted:
            institution_id = self.grantee(self.rng)
            if institution_id != lead_id and institution_id not in chosen:
                chosen.append(institution_id)
        return chosen

    def build(self, cases: list[Case]) -> tuple[list[CaseGroupObjectPermission], list[CaseShare], list[CaseShare]]:
        """(grants, shares, the shares to revoke once written)."""
        rng = self.rng
        grants: list[CaseGroupObjectPermission] = []
        shares: list[CaseShare] = []
        revoked_shares: list[CaseShare] = []
        for case in cases:
            lead_id = case.lead_institution_id
            grants += self._grants(lead_id, case.pk, CasePermission.LEAD)
            officer_id = self.officers[lead_id]
            for institution_id in self._grantees(lead_id):
                identity, collaborate = rng.random() < SHARE_IDENTITY, rng.random() < SHARE_COLLABORATE
                share = CaseShare(
                    case_id=case.pk,
                    institution_id=institution_id,
                    can_view_identity=identity,
                    can_collaborate=collaborate,
                    reason=SHARE_REASON,
                    legal_basis=SHARE_LEGAL_BASIS if identity else "",
                    granted_by_id=officer_id,
                )
                shares.append(share)
                if rng.random() < SHARE_REVOKED:
                    revoked_shares.append(share)  # its permissions are gone with it
                else:
                    codenames = [CasePermission.VIEW]
                    codenames += [CasePermission.VIEW_IDENTITY] if identity else []
                    codenames += [CasePermission.COLLABORATE] if collaborate else []
                    grants += self._grants(institution_id, case.pk, codenames)
        return grants, shares, revoked_shares

    @staticmethod
    def revoke(shares: list[CaseShare]) -> None:
        """Revoke written shares, by the officer who granted them, after they were granted."""
        CaseShare.objects.filter(pk__in=[share.pk for share in shares]).update(
            revoked_at=timezone.now(), revoked_by=F("granted_by"), revoke_reason=REVOKE_REASON
        )


class RucSerials:
    """Next free synthetic RUC serial per intake year, continuing after earlier runs."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def next(self, year: int) -> str:
        if year not in self._next:
            prefix = f"{year % 100:02d}9"
            highest = Case.objects.filter(ruc__startswith=prefix).aggregate(highest=Max("ruc"))["highest"]
            self._next[year] = int(highest[2:10]) + 1 if highest else SYNTHETIC_BLOCK
        serial = self._next[year]
        if serial > SYNTHETIC_BLOCK_END:
            raise CommandError(f"The synthetic RUC block for {year} is full.")
        self._next[year] = serial + 1
        return gen.draw_ruc(year, serial)


class SyntheticCases:
    """Builds and writes batches of cases with their victims, offenders and references."""

    def __init__(self, rng: random.Random, institutions: list[Institution], access: SyntheticAccess):
        self.rng = rng
        self.today = timezone.localdate()
        self.lead = gen.WeightedChoice({i.pk: LEAD_WEIGHT.get(i.kind, 1) for i in institutions})
        self.documents = gen.DocumentDrawer(rng)
        self.rucs = RucSerials()
        self.access = access

    def write_batch(self, size: int) -> Counter[str]:
        rng, today = self.rng, self.today
        cases, main_nationality = [], []
        for _ in range(size):
            year, purpose, region = gen.YEAR(rng), gen.PURPOSE(rng), gen.REGION(rng)
            facts = gen.draw_case_facts(rng, year=year, outcome=gen.draw_outcome(rng, year), today=today)
            cases.append(
                Case(
                    ruc=self.rucs.next(facts.intake_date.year),
                    lead_institution_id=self.lead(rng),
                    purpose=purpose,
                    region_detected=region,
                    fiscalia_regional=gen.fiscalia_for(rng, region),
                    **facts.as_data(),
                )
            )
            main_nationality.append(gen.VICTIM_NATIONALITY[purpose](rng))
        Case.objects.bulk_create(cases, batch_size=1000)
        grants, shares, revoked_shares = self.access.build(cases)
        CaseShare.objects.bulk_create(shares, batch_size=2000)
        self.access.revoke(revoked_shares)
        CaseGroupObjectPermission.objects.bulk_create(grants, batch_size=5000)

        victims, victim_links = self._victims(cases, main_nationality)
        for victim, code in zip(victims, allocate_codes("V", count=len(victims)), strict=True):
            victim.code = code
        Victim.objects.bulk_create(victims, batch_size=1000)
        CaseVictim.objects.bulk_create(victim_links, batch_size=2000)

        offenders, offender_links = self._offenders(cases, main_nationality)
        for offender, code in zip(offenders, allocate_codes("I", count=len(offenders)), strict=True):
            offender.code = code
        Offender.objects.bulk_create(offenders, batch_size=1000)
        CaseOffender.objects.bulk_create(offender_links, batch_size=2000)

        references = [
            CaseExternalReference(
                case=case,
                source=ExternalSource.PDI_REPORT if rng.random() < 0.75 else ExternalSource.CARABINEROS_REPORT,
                reference=f"SINT-{case.pk}",  # unique per source because the case id is
            )
            for case in cases
            if rng.random() < 0.3
        ]
        CaseExternalReference.objects.bulk_create(references, batch_size=2000)
        return Counter(
            cases=len(cases),
            victims=len(victims),
            victim_links=len(victim_links),
            offenders=len(offenders),
            offender_links=len(offender_links),
            references=len(references),
            shares=len(shares),
            grants=len(grants),
        )

    def _victims(self, cases: list[Case], main_nationality: list[str]) -> tuple[list[Victim], list[CaseVictim]]:
        rng, today = self.rng, self.today
        victims: list[Victim] = []
        links: list[CaseVictim] = []
        for case, main in zip(cases, main_nationality, strict=True):
            intake = case.intake_date
            first_victim = len(victims)
            for slot in range(gen.VICTIMS_PER_CASE(rng)):
                nationality = main if slot == 0 else gen.draw_related_nationality(rng, main, case.purpose, keep=0.8)
                sex = gen.VICTIM_SEX[case.purpose](rng)
                age_status, age = gen.draw_victim_age(rng, case.purpose)
                identified = gen.draw_date_after(rng, intake, 0, 20, today)
                birth_date = gen.birth_date_for_age(rng, age, intake) if age is not None else None
                given_names, surnames = gen.draw_name(rng, nationality, sex)
                document_type, document_number = self.documents.draw(
                    nationality, birth_date.year if birth_date else None, always=True
                )
                victim = Victim(
                    registering_institution_id=case.lead_institution_id,
                    given_names=given_names,
                    surnames=surnames,
                    document_type=document_type,
                    document_number=document_number,
                    birth_date=birth_date,
                    birth_year=birth_date.year if birth_date else None,
                    age_at_identification=gen.age_on(birth_date, identified) if birth_date else None,
                    phone=gen.draw_phone(rng) if rng.random() < 0.5 else "",
                    sex=sex,
                    nationality=nationality,
                )
                victims.append(victim)
                links.append(self._link(case, victim, age_status, age, identified))
            if first_victim and rng.random() < 0.02:
                # A victim already seen in an earlier case of this batch turns up again.
                victim = victims[rng.randrange(first_victim)]
                age = gen.age_on(victim.birth_date, intake) if victim.birth_date else None
                status = AgeStatus.KNOWN if age is not None and age >= 0 else AgeStatus.UNKNOWN
                identified = gen.draw_date_after(rng, intake, 0, 20, today)
                links.append(self._link(case, victim, status, age if status == AgeStatus.KNOWN else None, identified))
        return victims, links

    @staticmethod
    def _link(case: Case, victim: Victim, age_status: str, age: int | None, identified) -> CaseVictim:
        return CaseVictim(
            case=case,
            victim=victim,
            age_status=age_status,
            age_at_facts=age,
            purpose=case.purpose,
            region_detected=case.region_detected,
            identified_date=identified,
        )

    def _offenders(self, cases: list[Case], main_nationality: list[str]) -> tuple[list[Offender], list[CaseOffender]]:
        rng = self.rng
        offenders: list[Offender] = []
        links: list[CaseOffender] = []
        for case, main in zip(cases, main_nationality, strict=True):
            convicting = case.termination_type == TerminationType.CONVICTION
            for slot in range(gen.OFFENDERS_PER_CASE(rng)):
                nationality = gen.draw_offender_nationality(rng, main, case.purpose)
                sex = gen.OFFENDER_SEX(rng)
                given_names, surnames = gen.draw_name(rng, nationality, sex)
                birth_year = case.intake_date.year - gen.draw_adult_age(rng)
                document_type, document_number = self.documents.draw(nationality, birth_year)
                offender = Offender(
                    given_names=given_names,
                    surnames=surnames,
                    document_type=document_type,
                    document_number=document_number,
                    sex=sex,
                    nationality=nationality,
                )
                convicted = convicting and (slot == 0 or rng.random() < 0.6)
                offenders.append(offender)
                links.append(
                    CaseOffender(
                        case=case,
                        offender=offender,
                        is_formalised=convicted or (case.is_formalised and rng.random() < 0.85),
                        is_convicted=convicted,
                        sentence_date=case.termination_date if convicted else None,
                    )
                )
        return offenders, links


@contextlib.contextmanager
def cyclic_gc_paused():
    """Pause CPython's cyclic garbage collector for one batch, then collect once.

    A batch allocates some hundred thousand model instances; left on, the collector rescans the
    growing heap again and again and the run slows down by half. Reference counting still frees
    everything a batch leaves behind; the one collection afterwards catches the rare cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


WRITTEN_MODELS = (
    Case,
    CaseGroupObjectPermission,
    CaseShare,
    Victim,
    CaseVictim,
    Offender,
    CaseOffender,
    CaseExternalReference,
)


def analyze_written_tables() -> None:
    """Refresh the planner's statistics: a bulk load outruns autovacuum, and queries planned on
    the statistics of an empty table (the grant lookups above all) would pick the wrong plans."""
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in WRITTEN_MODELS)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


class Command(BaseCommand):
    help = (
        "Generate synthetic cases, victims (encrypted identity), offenders, and the institutions' access "
        "(lead permissions, shares) for benchmarks, with bulk_create in batches of one transaction each. "
        "Reports cases/s and victims/s."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=_positive, required=True, help="how many cases to create")
        parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, printed)")
        parser.add_argument(
            "--institutions",
            type=_positive,
            default=40,
            help="spread cases over at least this many institutions, adding synthetic ones (default 40)",
        )
        parser.add_argument(
            "--batch-size",
            type=_positive,
            default=DEFAULT_BATCH_SIZE,
            help=f"cases per transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even with production settings (only on a throw-away benchmark server)",
        )

    def handle(self, *args, cases: int, seed: int | None, institutions: int, batch_size: int, **options):
        gen.refuse_in_production("generate_dataset", allowed=options["allow_production"])
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        with transaction.atomic():
            spread = ensure_institutions(institutions)
            access = SyntheticAccess(random.Random(f"access-{seed}"), spread)
        self.stdout.write(f"Generating {cases} cases over {len(spread)} institutions (seed {seed}).")
        generator = SyntheticCases(random.Random(seed), spread, access)

        totals: Counter[str] = Counter()
        started = time.perf_counter()
        batches = range(0, cases, batch_size)
        for number, offset in enumerate(batches, start=1):
            with cyclic_gc_paused(), transaction.atomic():
                totals += generator.write_batch(min(batch_size, cases - offset))
            if options["verbosity"] >= 2 or number % 10 == 0 or number == len(batches):
                elapsed = time.perf_counter() - started
                self.stdout.write(
                    f"  {totals['cases']:>9,} cases  {totals['victims']:>9,} victims  {elapsed:7.1f} s  "
                    f"({totals['cases'] / elapsed:,.0f} cases/s)"
                )
        analyze_written_tables()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {totals['cases']:,} cases, {totals['victims']:,} victims "
                f"({totals['victim_links']:,} case links), {totals['offenders']:,} offenders "
                f"({totals['offender_links']:,} case links), {totals['references']:,} external references, "
                f"{totals['shares']:,} shares and {totals['grants']:,} object permissions "
                f"in {elapsed:.1f} s: {totals['cases'] / elapsed:,.0f} cases/s, "
                f"{totals['victims'] / elapsed:,.0f} victims/s."
            )
        )
