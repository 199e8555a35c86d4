"""Generation logic shared by ``seed_demo`` (a small, realistic demo set) and ``generate_dataset``
(synthetic volume for benchmarks): the MITP institutions, demo logins, plausible names and
identity documents, and the shape of a case's life (intake, formalisation, termination).

Everything is drawn from a ``random.Random`` passed in, never from the global generator, so a
seed gives the same data on every machine. Nothing here touches the database.

The proportions follow the MITP's published picture of trafficking in Chile, coarsely: most
victims of sexual exploitation are women and most victims of labour trafficking are men; the
main nationalities are Bolivian, Peruvian, Paraguayan, Colombian, Venezuelan and Dominican, with
Chinese and South-Asian labour cases; about one victim in eight is a child or adolescent (NNA).
They are illustrative, not statistics.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import itertools
import random
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from typing import Generic, TypeVar

from django.conf import settings
from django.core.management.base import CommandError

from cases.constants import CaseStatus, ExternalSource, TerminationType, TraffickingPurpose
from institutions.constants import InstitutionKind, Role
from kernel.choices import FISCALIA_REGION, FiscaliaRegional, Region, Sex
from kernel.identity_documents import DocumentType, run_check_digit
from victims.constants import ADULT_AGE, AgeStatus

T = TypeVar("T", bound=Hashable)

DEMO_SEED = 20507  # Ley 20.507, which made trafficking a crime in Chile
DEMO_CASES = 300
# Shown by `make run` and documented: every demo login uses it. Never used outside demo data.
DEMO_PASSWORD = "demo-mitp-2026"  # noqa: S105
FIRST_YEAR, LAST_YEAR = 2011, 2025
# The demo set describes the cases as they stood on this day, so it is the same whenever it is built.
DEMO_AS_OF = datetime.date(2026, 6, 30)
PRODUCTION_SETTINGS = "config.settings.production"


def refuse_in_production(command: str, *, allowed: bool) -> None:
    """Demo logins with a published password, or synthetic victims, must never reach production."""
    if settings.SETTINGS_MODULE == PRODUCTION_SETTINGS and not allowed:
        raise CommandError(
            f"{command} writes demo/synthetic data and refuses to run with production settings. "
            "Pass --allow-production only on a throw-away demo or benchmark server."
        )


# --- Institutions and demo logins -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InstitutionSpec:
    short_name: str
    name: str
    kind: str
    is_mitp_member: bool = True


INSTITUTIONS: tuple[InstitutionSpec, ...] = (
    InstitutionSpec("SUBINT", "Subsecretaría del Interior", InstitutionKind.MINISTRY),
    InstitutionSpec("SPD", "Subsecretaría de Prevención del Delito", InstitutionKind.MINISTRY),
    InstitutionSpec("PDI", "Policía de Investigaciones de Chile (BITRAP)", InstitutionKind.POLICE),
    InstitutionSpec("CARABINEROS", "Carabineros de Chile", InstitutionKind.POLICE),
    InstitutionSpec("FISCALIA", "Ministerio Público - Fiscalía Nacional", InstitutionKind.PROSECUTION),
    InstitutionSpec("SERMIG", "Servicio Nacional de Migraciones", InstitutionKind.MIGRATION),
    InstitutionSpec("MINREL", "Ministerio de Relaciones Exteriores", InstitutionKind.MINISTRY),
    InstitutionSpec("MINJUDH", "Ministerio de Justicia y Derechos Humanos", InstitutionKind.MINISTRY),
    InstitutionSpec("MINMUJEREG", "Ministerio de la Mujer y la Equidad de Género", InstitutionKind.MINISTRY),
    InstitutionSpec("SERNAMEG", "Servicio Nacional de la Mujer y la Equidad de Género", InstitutionKind.PUBLIC_SERVICE),
    InstitutionSpec("MINSAL", "Ministerio de Salud", InstitutionKind.MINISTRY),
    InstitutionSpec("MINTRAB", "Ministerio del Trabajo y Previsión Social", InstitutionKind.MINISTRY),
    InstitutionSpec("DT", "Dirección del Trabajo", InstitutionKind.PUBLIC_SERVICE),
    InstitutionSpec(
        "MEJORNINEZ",
        "Servicio Nacional de Protección Especializada a la Niñez y Adolescencia (Mejor Niñez)",
        InstitutionKind.CHILD_PROTECTION,
    ),
    InstitutionSpec("DEFENSORIANINEZ", "Defensoría de la Niñez", InstitutionKind.CHILD_PROTECTION),
    InstitutionSpec("MDSF", "Ministerio de Desarrollo Social y Familia", InstitutionKind.MINISTRY),
    InstitutionSpec("MINEDUC", "Ministerio de Educación", InstitutionKind.MINISTRY),
    # The courts take part in the board's work but, being autonomous, are not members.
    InstitutionSpec("PJUD", "Poder Judicial", InstitutionKind.JUDICIARY, is_mitp_member=False),
    InstitutionSpec("OIM", "Organización Internacional para las Migraciones (OIM)", InstitutionKind.INTERNATIONAL),
    InstitutionSpec(
        "ACNUR", "Alto Comisionado de las Naciones Unidas para los Refugiados (ACNUR)", InstitutionKind.INTERNATIONAL
    ),
    InstitutionSpec("INDH", "Instituto Nacional de Derechos Humanos", InstitutionKind.PUBLIC_SERVICE),
    InstitutionSpec("RAICES", "ONG Raíces", InstitutionKind.NGO),
    InstitutionSpec("FRE", "Fundación Fré", InstitutionKind.NGO, is_mitp_member=False),
)


@dataclasses.dataclass(frozen=True)
class DemoUserSpec:
    username: str
    first_name: str
    last_name: str
    institution: str | None  # short_name; None for the system administrator
    role: str
    is_mitp_secretariat: bool = False
    is_sermig_officer: bool = False
    is_system_admin: bool = False

    @property
    def capability(self) -> str:
        if self.is_system_admin:
            return "administrador del sistema (staff, superusuario; sin acceso a causas)"
        extras = [
            label
            for flag, label in (
                (self.is_mitp_secretariat, "Secretaría MITP"),
                (self.is_sermig_officer, "oficial Sermig"),
            )
            if flag
        ]
        return " + ".join([str(Role(self.role).label), *extras])


DEMO_USERS: tuple[DemoUserSpec, ...] = (
    DemoUserSpec("sysadmin", "Sofía", "Administradora", None, "", is_system_admin=True),
    DemoUserSpec("secretaria.mitp", "Paula", "Contreras", "SUBINT", Role.CASE_OFFICER, is_mitp_secretariat=True),
    DemoUserSpec("oficial.pdi", "Rodrigo", "Fuentes", "PDI", Role.CASE_OFFICER),
    DemoUserSpec("lector.pdi", "Javiera", "Muñoz", "PDI", Role.READER),
    DemoUserSpec("admin.pdi", "Cristián", "Soto", "PDI", Role.INSTITUTION_ADMIN),
    DemoUserSpec("oficial.carabineros", "Marcela", "Vergara", "CARABINEROS", Role.CASE_OFFICER),
    DemoUserSpec("oficial.fiscalia", "Andrea", "Rojas", "FISCALIA", Role.CASE_OFFICER),
    DemoUserSpec("lector.fiscalia", "Felipe", "Araya", "FISCALIA", Role.READER),
    DemoUserSpec("admin.fiscalia", "Carolina", "Pizarro", "FISCALIA", Role.INSTITUTION_ADMIN),
    DemoUserSpec("sermig.oficial", "Daniela", "Castillo", "SERMIG", Role.CASE_OFFICER, is_sermig_officer=True),
    DemoUserSpec("lector.sermig", "Tomás", "Herrera", "SERMIG", Role.READER),
    DemoUserSpec("oficial.ong", "Valentina", "Sepúlveda", "RAICES", Role.CASE_OFFICER),
    DemoUserSpec("oficial.mejorninez", "Catalina", "Figueroa", "MEJORNINEZ", Role.CASE_OFFICER),
    DemoUserSpec("oficial.sernameg", "Lorena", "Gallardo", "SERNAMEG", Role.CASE_OFFICER),
)


def acting_usernames() -> dict[str, str]:
    """Per institution, the demo login that registers its cases (a case officer, else its admin)."""
    actors: dict[str, str] = {}
    for user in sorted(DEMO_USERS, key=lambda u: u.role != Role.CASE_OFFICER):
        if user.institution and user.role != Role.READER:
            actors.setdefault(user.institution, user.username)
    return actors


# --- Weighted choices ---------------------------------------------------------------------------


class WeightedChoice(Generic[T]):
    """Draw from a fixed distribution with one ``rng.random()`` call (cumulative weights, bisect)."""

    def __init__(self, weights: Mapping[T, float]):
        self.values: list[T] = list(weights)
        self._cumulative = list(itertools.accumulate(weights.values()))
        self._total = self._cumulative[-1]

    def __call__(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self._cumulative, rng.random() * self._total)]


UNKNOWN_NATIONALITY = ""

# Victims' nationalities by purpose ("" = sin información).
_SEXUAL_NATIONALITIES = {
    "CO": 14, "DO": 12, "PY": 12, "VE": 10, "CL": 10, "PE": 8, "BO": 6, "CU": 4, "AR": 3, "EC": 3, "BR": 3,
    "MX": 2, "HT": 2, "CN": 2, "GT": 1, "ES": 1, "PH": 1, "NG": 1.5, "KR": 0.5, "IN": 0.3, "BD": 0.2, "": 3,
}  # fmt: skip
_LABOUR_NATIONALITIES = {
    "BO": 18, "PE": 14, "PY": 10, "CN": 8, "HT": 6, "BD": 5, "CL": 5, "IN": 4, "PH": 4, "CO": 4, "VE": 4, "EC": 4,
    "KR": 2, "DO": 1, "AR": 1, "NG": 1, "BR": 1, "MX": 1, "CU": 1, "GT": 1, "ES": 0.5, "": 4,
}  # fmt: skip
_ORGAN_NATIONALITIES = {"HT": 3, "VE": 3, "CO": 2, "PE": 2, "BO": 2, "DO": 1, "CL": 1, "": 2}
_UNKNOWN_PURPOSE_NATIONALITIES = {
    code: _SEXUAL_NATIONALITIES.get(code, 0) + _LABOUR_NATIONALITIES.get(code, 0)
    for code in _SEXUAL_NATIONALITIES | _LABOUR_NATIONALITIES
}
_UNKNOWN_PURPOSE_NATIONALITIES[UNKNOWN_NATIONALITY] += 10

VICTIM_NATIONALITY = {
    TraffickingPurpose.SEXUAL: WeightedChoice(_SEXUAL_NATIONALITIES),
    TraffickingPurpose.LABOUR: WeightedChoice(_LABOUR_NATIONALITIES),
    TraffickingPurpose.ORGAN_REMOVAL: WeightedChoice(_ORGAN_NATIONALITIES),
    TraffickingPurpose.UNKNOWN: WeightedChoice(_UNKNOWN_PURPOSE_NATIONALITIES),
}
NATIONALITIES: tuple[str, ...] = tuple(_UNKNOWN_PURPOSE_NATIONALITIES)  # every value any victim can get

PURPOSE = WeightedChoice(
    {
        TraffickingPurpose.SEXUAL: 46,
        TraffickingPurpose.LABOUR: 42,
        TraffickingPurpose.ORGAN_REMOVAL: 2,
        TraffickingPurpose.UNKNOWN: 10,
    }
)

REGION = WeightedChoice(
    {
        Region.ARICA: 8, Region.TARAPACA: 10, Region.ANTOFAGASTA: 9, Region.ATACAMA: 3, Region.COQUIMBO: 4,
        Region.VALPARAISO: 6, Region.METROPOLITANA: 30, Region.OHIGGINS: 4, Region.MAULE: 4, Region.NUBLE: 2,
        Region.BIOBIO: 5, Region.ARAUCANIA: 3, Region.LOS_RIOS: 2, Region.LOS_LAGOS: 3, Region.AYSEN: 1,
        Region.MAGALLANES: 1, Region.UNKNOWN: 3,
    }
)  # fmt: skip

_FISCALIAS_BY_REGION: dict[str, list[str]] = defaultdict(list)
for _fiscalia, _region in FISCALIA_REGION.items():
    _FISCALIAS_BY_REGION[_region].append(_fiscalia)


def fiscalia_for(rng: random.Random, region: str) -> str:
    """The regional prosecutor's office of a region (Santiago has four)."""
    return rng.choice(_FISCALIAS_BY_REGION.get(region) or [FiscaliaRegional.UNKNOWN])


# Slightly more cases in recent years, as detection improved.
YEAR = WeightedChoice({year: 14 + (year - FIRST_YEAR) for year in range(FIRST_YEAR, LAST_YEAR + 1)})

VICTIM_SEX = {
    TraffickingPurpose.SEXUAL: WeightedChoice({Sex.FEMALE: 88, Sex.MALE: 10, Sex.UNKNOWN: 2}),
    TraffickingPurpose.LABOUR: WeightedChoice({Sex.FEMALE: 27, Sex.MALE: 71, Sex.UNKNOWN: 2}),
    TraffickingPurpose.ORGAN_REMOVAL: WeightedChoice({Sex.FEMALE: 40, Sex.MALE: 58, Sex.UNKNOWN: 2}),
    TraffickingPurpose.UNKNOWN: WeightedChoice({Sex.FEMALE: 60, Sex.MALE: 35, Sex.UNKNOWN: 5}),
}
OFFENDER_SEX = WeightedChoice({Sex.MALE: 68, Sex.FEMALE: 30, Sex.UNKNOWN: 2})
# Share of victims with a known age who were minors at the time of the facts.
MINOR_SHARE = {
    TraffickingPurpose.SEXUAL: 0.15,
    TraffickingPurpose.LABOUR: 0.05,
    TraffickingPurpose.ORGAN_REMOVAL: 0.08,
    TraffickingPurpose.UNKNOWN: 0.08,
}
AGE_STATUS = WeightedChoice({AgeStatus.KNOWN: 90, AgeStatus.MINOR_UNKNOWN: 3, AgeStatus.UNKNOWN: 7})
MINOR_AGE = WeightedChoice({8: 1, 9: 1, 10: 1, 11: 2, 12: 3, 13: 4, 14: 6, 15: 8, 16: 10, 17: 10})
VICTIMS_PER_CASE = WeightedChoice({1: 12, 2: 24, 3: 64})  # mean 2.52
OFFENDERS_PER_CASE = WeightedChoice({1: 55, 2: 30, 3: 15})

# --- How cases end ------------------------------------------------------------------------------

TERMINATION = WeightedChoice(
    {
        TerminationType.CONVICTION: 28,
        TerminationType.ACQUITTAL: 8,
        TerminationType.NO_PERSEVERAR: 12,
        TerminationType.PROVISIONAL_ARCHIVE: 20,
        TerminationType.NO_INVESTIGAR: 5,
        TerminationType.OPORTUNIDAD: 4,
        TerminationType.SOBRESEIMIENTO_DEFINITIVO: 7,
        TerminationType.SOBRESEIMIENTO_TEMPORAL: 5,
        TerminationType.OTHER: 11,
    }
)
# Endings that only follow a formalised investigation, and those that precede any formalisation.
FORMALISED_ENDINGS = frozenset(
    {
        TerminationType.CONVICTION,
        TerminationType.ACQUITTAL,
        TerminationType.NO_PERSEVERAR,
        TerminationType.SOBRESEIMIENTO_DEFINITIVO,
        TerminationType.SOBRESEIMIENTO_TEMPORAL,
    }
)
UNFORMALISED_ENDINGS = frozenset(
    {TerminationType.PROVISIONAL_ARCHIVE, TerminationType.NO_INVESTIGAR, TerminationType.OPORTUNIDAD}
)
OUTCOMES: tuple[tuple[str, str], ...] = (
    (CaseStatus.OPEN, ""),
    (CaseStatus.SUSPENDED, ""),
    *((CaseStatus.CLOSED, t) for t in TerminationType.values),
)


def draw_outcome(rng: random.Random, year: int) -> tuple[str, str]:
    """(status, termination type): the older the case, the likelier it is closed."""
    closed_share = min(0.92, 0.25 + 0.07 * (LAST_YEAR - year))
    draw = rng.random()
    if draw < closed_share:
        return CaseStatus.CLOSED, TERMINATION(rng)
    if draw < closed_share + 0.08:
        return CaseStatus.SUSPENDED, ""
    return CaseStatus.OPEN, ""


@dataclasses.dataclass(frozen=True)
class CaseFacts:
    intake_date: datetime.date
    investigation_start_date: datetime.date | None
    is_formalised: bool
    formalised_date: datetime.date | None
    status: str
    termination_type: str
    termination_date: datetime.date | None

    def as_data(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def draw_date_after(
    rng: random.Random, start: datetime.date, low: int, high: int, today: datetime.date
) -> datetime.date:
    """A date ``low`` to ``high`` days after ``start``, never after ``today``.

    The window shrinks rather than piling dates up on ``today``; exactly one draw is consumed
    whatever ``today`` is, so the rest of a seeded sequence does not depend on the day it runs.
    """
    latest = min(start + datetime.timedelta(days=high), today)
    earliest = min(start + datetime.timedelta(days=low), latest)
    return earliest + datetime.timedelta(days=int(rng.random() * ((latest - earliest).days + 1)))


def draw_case_facts(rng: random.Random, *, year: int, outcome: tuple[str, str], today: datetime.date) -> CaseFacts:
    """Dates that satisfy every rule of the Case model: nothing in the future, formalisation after
    the start of the investigation, termination after intake and after formalisation."""
    status, termination_type = outcome
    intake = min(datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randrange(365)), today)
    if termination_type in FORMALISED_ENDINGS:
        formalised = True
    elif termination_type in UNFORMALISED_ENDINGS:
        formalised = False
    else:  # open, suspended (often a suspensión condicional, which needs a formalisation), "otro"
        formalised = rng.random() < {CaseStatus.SUSPENDED: 0.9, CaseStatus.OPEN: 0.58}.get(status, 0.5)
    start = draw_date_after(rng, intake, 0, 60, today) if formalised or rng.random() < 0.5 else None
    formalised_date = draw_date_after(rng, start, 10, 240, today) if formalised and start else None
    termination_date = None
    if status == CaseStatus.CLOSED:
        termination_date = draw_date_after(rng, formalised_date or start or intake, 30, 900, today)
    return CaseFacts(intake, start, formalised, formalised_date, status, termination_type, termination_date)


# --- People -------------------------------------------------------------------------------------

_HISPANIC_FEMALE = (
    "María", "Ana", "Carmen", "Rosa", "Juana", "Claudia", "Daniela", "Valentina", "Camila", "Fernanda", "Francisca",
    "Javiera", "Constanza", "Catalina", "Paola", "Andrea", "Carolina", "Patricia", "Yesenia", "Yessica", "Marisol",
    "Lorena", "Gabriela", "Luz", "Milagros", "Yolanda", "Elizabeth", "Sandra", "Wendy", "Yuliana", "Karina",
    "Marcela", "Gloria", "Verónica", "Mónica", "Natalia", "Sofía", "Isabel", "Teresa", "Julia", "Lucía", "Martina",
    "Florencia", "Antonella", "Dayana", "Yamileth", "Maribel", "Nelly", "Lidia", "Esperanza", "Rocío", "Silvia",
    "Beatriz", "Yajaira", "Leidy", "Roxana", "Nancy", "Zulema", "Griselda", "Mercedes",
)  # fmt: skip
_HISPANIC_MALE = (
    "José", "Juan", "Luis", "Carlos", "Jorge", "Pedro", "Miguel", "Manuel", "Francisco", "Diego", "Andrés", "Felipe",
    "Sebastián", "Cristián", "Rodrigo", "Mauricio", "Fernando", "Alejandro", "Héctor", "Víctor", "Ramón", "Raúl",
    "Wilson", "Freddy", "Édgar", "Wilmer", "Jhon", "Jhonatan", "Yeison", "Brayan", "Kevin", "Ángel", "Marcos",
    "Óscar", "Hugo", "Julio", "César", "Rubén", "Santiago", "Matías", "Benjamín", "Tomás", "Eduardo", "Germán",
    "Nelson", "Fabián", "Alberto", "Ricardo", "Gustavo", "Hernán",
)  # fmt: skip
_HISPANIC_SURNAMES = (
    "González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez", "Sepúlveda", "Morales",
    "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya", "Flores", "Espinoza", "Valenzuela", "Castillo",
    "Tapia", "Reyes", "Gutiérrez", "Castro", "Pizarro", "Álvarez", "Vásquez", "Sánchez", "Fernández", "Ramírez",
    "Carrasco", "Gómez", "Cortés", "Herrera", "Núñez", "Jara", "Vergara", "Rivera", "Figueroa", "Riquelme", "García",
    "Miranda", "Bravo", "Vera", "Molina", "Vega", "Campos", "Sandoval", "Orellana", "Zúñiga", "Olivares", "Alarcón",
    "Gallardo", "Ortiz", "Garrido", "Salazar", "Guzmán", "Henríquez", "Saavedra", "Navarro", "Aguilera", "Parra",
    "Romero", "Aravena", "Benítez", "Giménez", "Villalba", "Cáceres", "Duarte", "Ayala", "Ramos", "Medina",
    "Cabrera", "Mejía", "Jiménez", "Acosta", "Cardona", "Ospina", "Peña", "De la Cruz", "Báez", "Almonte",
)  # fmt: skip
_ANDEAN_SURNAMES = (
    *_HISPANIC_SURNAMES[:40],
    "Quispe", "Mamani", "Condori", "Choque", "Huanca", "Apaza", "Ticona", "Limachi", "Chambi", "Huamán", "Ccori",
    "Yupanqui", "Cusi", "Layme", "Coaquira", "Vargas", "Chávez", "Mendoza", "Poma", "Calle",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class NamePool:
    female: Sequence[str]
    male: Sequence[str]
    surnames: Sequence[str]
    two_given: float = 0.0  # share with two given names
    two_surnames: float = 0.0  # share with two surnames

    def draw(self, rng: random.Random, sex: str) -> tuple[str, str]:
        if sex == Sex.UNKNOWN:
            sex = rng.choice((Sex.FEMALE, Sex.MALE))
        given_pool = self.female if sex == Sex.FEMALE else self.male
        given = rng.choice(given_pool)
        if rng.random() < self.two_given:
            second = rng.choice(given_pool)
            if second != given:
                given = f"{given} {second}"
        surnames = rng.choice(self.surnames)
        if rng.random() < self.two_surnames:
            second = rng.choice(self.surnames)
            if second != surnames:
                surnames = f"{surnames} {second}"
        return given, surnames


_HISPANIC = NamePool(_HISPANIC_FEMALE, _HISPANIC_MALE, _HISPANIC_SURNAMES, 0.45, 0.9)
_NAME_POOLS: dict[str, NamePool] = {
    "BO": NamePool(_HISPANIC_FEMALE, _HISPANIC_MALE, _ANDEAN_SURNAMES, 0.4, 0.9),
    "PE": NamePool(_HISPANIC_FEMALE, _HISPANIC_MALE, _ANDEAN_SURNAMES, 0.4, 0.9),
    "BR": NamePool(
        ("Ana Paula", "Juliana", "Fernanda", "Aline", "Patrícia", "Camila", "Bruna", "Larissa", "Vanessa", "Adriana"),
        ("João", "Pedro", "Lucas", "Gabriel", "Rafael", "Thiago", "Bruno", "Marcelo", "Leandro", "Paulo"),
        ("Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
         "Ribeiro", "Carvalho", "Almeida", "Costa"),
        0.2, 0.6,
    ),
    "HT": NamePool(
        ("Marie", "Rose", "Nadège", "Fabienne", "Guerline", "Mirlande", "Roseline", "Wideline", "Islande", "Nathalie"),
        ("Jean", "Pierre", "Jean-Baptiste", "Wilson", "Jean Claude", "Emmanuel", "Frantz", "Jackson", "Widner",
         "Louis"),
        ("Joseph", "Pierre", "Jean", "Louis", "Charles", "Baptiste", "Saint-Fleur", "Dorvil", "Célestin", "Désir",
         "Augustin", "François", "Paul", "Michel", "Étienne"),
        0.2,
    ),
    "CN": NamePool(
        ("Li Na", "Fang", "Jing", "Hui", "Yan", "Xiuying", "Mei", "Ling", "Xiaoyan", "Hong"),
        ("Wei", "Lei", "Ming", "Jun", "Hao", "Jian", "Qiang", "Tao", "Zhiwei", "Yong"),
        ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Lin"),
    ),
    "KR": NamePool(
        ("Seo-yeon", "Ji-woo", "Min-seo", "Su-bin", "Ha-eun", "Ji-min"),
        ("Min-jun", "Ji-hoon", "Hyun-woo", "Sung-min", "Dong-hyun", "Jae-won"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon"),
    ),
    "PH": NamePool(
        ("Maria Cristina", "Jocelyn", "Rowena", "Marites", "Lorna", "Rosalie", "Jennylyn", "Mary Grace"),
        ("Jun", "Rodel", "Arnel", "Mark Anthony", "Jomar", "Reynaldo", "Ronaldo", "Joel"),
        ("Santos", "Reyes", "Cruz", "Bautista", "Dela Cruz", "Garcia", "Mendoza", "Villanueva", "Ramos", "Aquino",
         "Tolentino"),
        0.1, 0.4,
    ),
    "BD": NamePool(
        ("Fatema", "Nasrin", "Shirin", "Ayesha", "Rokeya", "Taslima"),
        ("Mohammad", "Abdul Karim", "Rahim", "Shahidul", "Mizanur", "Hasan", "Rafiqul", "Jahangir"),
        ("Hossain", "Rahman", "Islam", "Ahmed", "Uddin", "Akter", "Chowdhury", "Miah", "Sarkar"),
    ),
    "IN": NamePool(
        ("Priya", "Sunita", "Anjali", "Pooja", "Lakshmi", "Kavita"),
        ("Rajesh", "Sunil", "Amit", "Ravi", "Deepak", "Manoj", "Suresh", "Vikram"),
        ("Kumar", "Singh", "Sharma", "Patel", "Gupta", "Das", "Yadav", "Reddy", "Nair"),
    ),
    "NG": NamePool(
        ("Ngozi", "Chioma", "Blessing", "Funmilayo", "Adaeze", "Precious", "Oluwakemi"),
        ("Chinedu", "Oluwaseun", "Emeka", "Ifeanyi", "Tunde", "Samuel", "Chukwuma"),
        ("Okafor", "Adeyemi", "Okonkwo", "Eze", "Obi", "Adebayo", "Nwosu", "Ogunleye", "Balogun", "Okeke"),
        0.3,
    ),
}  # fmt: skip


def draw_name(rng: random.Random, nationality: str, sex: str) -> tuple[str, str]:
    """(given names, surnames) plausible for the nationality; Spanish names when unknown."""
    return _NAME_POOLS.get(nationality, _HISPANIC).draw(rng, sex)


# Document number shapes: "9" a digit, "A" a capital letter, anything else literal.
_PASSPORT_SHAPES = {"CN": "EA9999999", "KR": "M99999999", "IN": "A9999999", "BR": "AA999999", "US": "999999999"}
_FOREIGN_ID_SHAPES = {
    "BO": "9999999", "PE": "99999999", "CO": "9999999999", "VE": "V-99999999", "PY": "9999999",
    "DO": "999-9999999-9", "AR": "99999999", "EC": "9999999999", "HT": "999-999-999-9", "CU": "99999999999",
}  # fmt: skip
_DIGITS, _LETTERS = "0123456789", "ABCDEFGHJKLMNPRSTUVWXYZ"


def _shaped(rng: random.Random, shape: str) -> str:
    """A number of this shape without leading zeros, and never shorter than a valid document (3).
    (Exactly one draw per character, whatever comes out: the seeded sequence must not change.)"""
    number = "".join(rng.choice(_DIGITS) if c == "9" else rng.choice(_LETTERS) if c == "A" else c for c in shape)
    return number.lstrip("0").rjust(3, "1")


def format_run(body: int) -> str:
    """A RUN as people write it, with a valid check digit: 12.345.678-5."""
    return f"{body:,}".replace(",", ".") + f"-{run_check_digit(body)}"


class DocumentDrawer:
    """Identity documents that look real and are unique within one generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._used: set[str] = set()

    def _run_body(self, nationality: str, birth_year: int | None) -> int:
        if nationality == "CL" and birth_year:
            # RUNs are given at birth registration, roughly in order: about 5M in 1950, 23M in 2010.
            centre = 5_000_000 + (birth_year - 1950) * 300_000
            return max(1_000_000, min(27_900_000, centre + self.rng.randrange(-250_000, 250_000)))
        if nationality == "CL":
            return self.rng.randrange(6_000_000, 26_000_000)
        return self.rng.randrange(21_000_000, 28_500_000)  # foreign residents get high numbers

    def draw(self, nationality: str, birth_year: int | None, *, always: bool = False) -> tuple[str, str]:
        """(document type, number), or ("", "") for a person without a known document."""
        rng = self.rng
        draw = rng.random()
        if nationality == "CL":
            kind = DocumentType.RUN if always or draw < 0.88 else ""
        elif nationality == UNKNOWN_NATIONALITY:
            kind = DocumentType.OTHER if always or draw < 0.25 else ""
        elif draw < 0.42:
            kind = DocumentType.PASSPORT
        elif draw < 0.67:
            kind = DocumentType.FOREIGN_ID
        elif draw < 0.77:
            kind = DocumentType.RUN
        elif draw < 0.80:
            kind = DocumentType.OTHER
        else:
            kind = DocumentType.PASSPORT if always else ""
        if not kind:
            return "", ""
        for _ in range(100):
            if kind == DocumentType.RUN:
                number = format_run(self._run_body(nationality, birth_year))
            elif kind == DocumentType.PASSPORT:
                number = _shaped(rng, _PASSPORT_SHAPES.get(nationality, "AA9999999"))
            elif kind == DocumentType.FOREIGN_ID:
                number = _shaped(rng, _FOREIGN_ID_SHAPES.get(nationality, "999999999"))
            else:
                number = _shaped(rng, "AAA999999")
            key = f"{kind}|{number}"
            if key not in self._used:
                self._used.add(key)
                return kind, number
        raise RuntimeError("could not draw an unused document number")  # pragma: no cover


def draw_phone(rng: random.Random) -> str:
    number = rng.randrange(10_000_000, 100_000_000)
    return f"+56 9 {number // 10_000:04d} {number % 10_000:04d}"


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def birth_date_for_age(rng: random.Random, age: int, on: datetime.date) -> datetime.date:
    """A birth date at which a person is exactly ``age`` on ``on``."""
    latest = on.replace(year=on.year - age) if (on.month, on.day) != (2, 29) else on.replace(year=on.year - age, day=28)
    return latest - datetime.timedelta(days=rng.randrange(365))


def draw_victim_age(rng: random.Random, purpose: str) -> tuple[str, int | None]:
    """(age status, age at the facts) for a victim of a case of this purpose."""
    status = AGE_STATUS(rng)
    if status != AgeStatus.KNOWN:
        return status, None
    if rng.random() < MINOR_SHARE[purpose]:
        return status, MINOR_AGE(rng)
    return status, int(rng.triangular(ADULT_AGE, 62, 24))


def draw_adult_age(rng: random.Random) -> int:
    return int(rng.triangular(20, 68, 35))


def draw_related_nationality(rng: random.Random, main: str, purpose: str, *, keep: float) -> str:
    """Victims of one case mostly share a nationality; an offender often shares it or is Chilean."""
    return main if rng.random() < keep else VICTIM_NATIONALITY[purpose](rng)


def draw_offender_nationality(rng: random.Random, main: str, purpose: str) -> str:
    draw = rng.random()
    if draw < 0.4 or (draw < 0.85 and not main):
        return "CL"
    return main if draw < 0.85 else VICTIM_NATIONALITY[purpose](rng)


def draw_ruc(year: int, serial: int) -> str:
    """RUC ``YYNNNNNNNN-D``. The real check character is the Fiscalía's; módulo 11 stands in for it."""
    digits = f"{year % 100:02d}{serial:08d}"
    return f"{digits}-{run_check_digit(int(digits))}"


# --- The demo plan ------------------------------------------------------------------------------


@dataclasses.dataclass
class PersonPlan:
    given_names: str
    surnames: str
    document_type: str
    document_number: str
    sex: str
    nationality: str
    birth_date: datetime.date | None = None
    birth_year: int | None = None
    age_at_identification: int | None = None
    phone: str = ""


@dataclasses.dataclass
class VictimSlot:
    """A victim's part in a case: a new person, or one first registered in an earlier case."""

    person: PersonPlan
    age_status: str
    age_at_facts: int | None
    identified_date: datetime.date
    # (RUC, position among that case's victims) where a returning person was first registered;
    # None for a person registered with this case.
    first_seen: tuple[str, int] | None = None


@dataclasses.dataclass
class OffenderPlan:
    person: PersonPlan
    is_formalised: bool
    is_convicted: bool
    sentence_date: datetime.date | None


@dataclasses.dataclass
class CasePlan:
    ruc: str
    lead: str  # institution short_name
    facts: CaseFacts
    purpose: str
    region_detected: str
    fiscalia_regional: str
    nationality: str  # of most victims
    external_references: list[tuple[str, str]]
    victims: list[VictimSlot] = dataclasses.field(default_factory=list)
    offenders: list[OffenderPlan] = dataclasses.field(default_factory=list)

    @property
    def data(self) -> dict[str, object]:
        return {
            "ruc": self.ruc,
            **self.facts.as_data(),
            "purpose": self.purpose,
            "region_detected": self.region_detected,
            "fiscalia_regional": self.fiscalia_regional,
        }


_DEMO_LEAD = {
    "FISCALIA": 38, "PDI": 30, "CARABINEROS": 12, "SERMIG": 3, "RAICES": 3, "FRE": 2, "MEJORNINEZ": 2,
    "SERNAMEG": 2, "OIM": 2,
}  # fmt: skip
DEMO_LEAD = {
    purpose: WeightedChoice({**_DEMO_LEAD, "DT": 8 if purpose == TraffickingPurpose.LABOUR else 0})
    for purpose in TraffickingPurpose.values
}


def _forced_positions(rng: random.Random, count: int, values: Sequence[T]) -> dict[int, T]:
    """Give each value its own random position, so a small sample is sure to contain them all."""
    return dict(zip(rng.sample(range(count), len(values)), values, strict=True))


def build_demo_plan(*, today: datetime.date, seed: int = DEMO_SEED, cases: int = DEMO_CASES) -> list[CasePlan]:
    """The demo cases, in intake order, as they stood on DEMO_AS_OF: a pure function of ``seed``.
    (``today`` only matters on a machine whose clock is earlier: no date is ever in the future.)

    Every status, termination type, purpose, region and victim nationality occurs at least once,
    as do both sexes and minors whose exact age is unknown.
    """
    today = min(today, DEMO_AS_OF)
    rng = random.Random(seed)
    forced_outcome = _forced_positions(rng, cases, OUTCOMES)
    forced_purpose = _forced_positions(rng, cases, TraffickingPurpose.values)
    forced_region = _forced_positions(rng, cases, Region.values)
    forced_nationality = _forced_positions(rng, cases, NATIONALITIES)

    drafts = []
    for index in range(cases):
        year = YEAR(rng)
        purpose = forced_purpose.get(index) or PURPOSE(rng)
        region = forced_region.get(index) or REGION(rng)
        nationality = forced_nationality.get(index, VICTIM_NATIONALITY[purpose](rng))
        outcome = forced_outcome.get(index) or draw_outcome(rng, year)
        facts = draw_case_facts(rng, year=year, outcome=outcome, today=today)
        drafts.append((facts, purpose, region, nationality))
    drafts.sort(key=lambda draft: draft[0].intake_date)

    documents = DocumentDrawer(rng)
    forced_victim = _forced_positions(
        rng,
        cases,
        [
            ("sex", Sex.FEMALE),
            ("sex", Sex.MALE),
            ("sex", Sex.UNKNOWN),
            ("age_status", AgeStatus.MINOR_UNKNOWN),
            ("age_status", AgeStatus.UNKNOWN),
            ("minor", 15),
        ],
    )
    used_rucs: set[str] = set()
    reference_serials: dict[str, itertools.count] = {
        source: itertools.count(rng.randrange(100, 900)) for source in ExternalSource.values
    }
    persons_by_purpose: dict[str, list[tuple[tuple[str, int], PersonPlan]]] = defaultdict(list)
    plans: list[CasePlan] = []
    for index, (facts, purpose, region, nationality) in enumerate(drafts):
        year = facts.intake_date.year
        ruc = draw_ruc(year, rng.randrange(100_000, 2_000_000))
        while ruc in used_rucs:
            ruc = draw_ruc(year, rng.randrange(100_000, 2_000_000))
        used_rucs.add(ruc)
        lead = DEMO_LEAD[purpose](rng)
        references = []
        if lead == "PDI" or (lead != "CARABINEROS" and rng.random() < 0.35):
            references.append((ExternalSource.PDI_REPORT, f"BITRAP-{year}-{next(reference_serials['pdi-parte']):05d}"))
        if lead == "CARABINEROS" or rng.random() < 0.08:
            serial = next(reference_serials["carabineros-parte"])
            references.append((ExternalSource.CARABINEROS_REPORT, f"{year}-{serial:06d}"))
        if facts.termination_type in (TerminationType.CONVICTION, TerminationType.ACQUITTAL):
            references.append((ExternalSource.COURT_RIT, f"O-{next(reference_serials['tribunal-rit'])}-{year}"))
        plan = CasePlan(
            ruc=ruc,
            lead=lead,
            facts=facts,
            purpose=purpose,
            region_detected=region,
            fiscalia_regional=fiscalia_for(rng, region),
            nationality=nationality,
            external_references=references,
        )
        _plan_victims(rng, plan, documents, persons_by_purpose[purpose], forced_victim.get(index), today)
        _plan_offenders(rng, plan, documents)
        plans.append(plan)
    return plans


def _plan_victims(
    rng: random.Random,
    plan: CasePlan,
    documents: DocumentDrawer,
    earlier: list[tuple[tuple[str, int], PersonPlan]],
    forced: tuple[str, object] | None,
    today: datetime.date,
) -> None:
    intake = plan.facts.intake_date
    in_case: set[int] = set()
    for slot in range(VICTIMS_PER_CASE(rng)):
        identified = draw_date_after(rng, intake, 0, 20, today)
        if slot and earlier and rng.random() < 0.04:
            # Re-trafficked, or found again in a related investigation: same person, second case.
            first_seen, person = rng.choice(earlier)
            if id(person) not in in_case:
                in_case.add(id(person))
                age = age_on(person.birth_date, intake) if person.birth_date else None
                status = AgeStatus.KNOWN if age is not None else AgeStatus.UNKNOWN
                plan.victims.append(VictimSlot(person, status, age, identified, first_seen))
                continue
        nationality = (
            plan.nationality if slot == 0 else draw_related_nationality(rng, plan.nationality, plan.purpose, keep=0.8)
        )
        sex = VICTIM_SEX[plan.purpose](rng)
        age_status, age = draw_victim_age(rng, plan.purpose)
        if slot == 0 and forced:
            match forced:
                case ("sex", value):
                    sex = value
                case ("age_status", value):
                    age_status, age = value, None
                case ("minor", value):
                    age_status, age = AgeStatus.KNOWN, value
        birth_date = birth_year = age_at_identification = None
        if age is not None:
            born = birth_date_for_age(rng, age, intake)
            birth_year = born.year
            age_at_identification = age_on(born, identified)
            birth_date = born if rng.random() < 0.85 else None  # otherwise only the year is known
        given, surnames = draw_name(rng, nationality, sex)
        document_type, document_number = documents.draw(nationality, birth_year)
        person = PersonPlan(
            given_names=given,
            surnames=surnames,
            document_type=document_type,
            document_number=document_number,
            sex=sex,
            nationality=nationality,
            birth_date=birth_date,
            birth_year=birth_year,
            age_at_identification=age_at_identification,
            phone=draw_phone(rng) if rng.random() < 0.6 else "",
        )
        in_case.add(id(person))
        plan.victims.append(VictimSlot(person, age_status, age, identified))
        earlier.append(((plan.ruc, slot), person))


def _plan_offenders(rng: random.Random, plan: CasePlan, documents: DocumentDrawer) -> None:
    facts = plan.facts
    convicting = facts.termination_type == TerminationType.CONVICTION
    for slot in range(OFFENDERS_PER_CASE(rng)):
        nationality = draw_offender_nationality(rng, plan.nationality, plan.purpose)
        sex = OFFENDER_SEX(rng)
        given, surnames = draw_name(rng, nationality, sex)
        birth_year = facts.intake_date.year - draw_adult_age(rng)
        document_type, document_number = documents.draw(nationality, birth_year)
        convicted = convicting and (slot == 0 or rng.random() < 0.6)
        plan.offenders.append(
            OffenderPlan(
                person=PersonPlan(given, surnames, document_type, document_number, sex, nationality),
                is_formalised=convicted or (facts.is_formalised and rng.random() < 0.85),
                is_convicted=convicted,
                sentence_date=facts.termination_date if convicted else None,
            )
        )


# --- The demo shares ----------------------------------------------------------------------------

DEMO_SHARE_SEED = DEMO_SEED + 1  # a generator of their own: the cases above stay as they were
SHARED_CASE_SHARE = 0.2  # of all demo cases
SHARE_IDENTITY = 0.1  # of shares: ver identidad, resting on a prosecutor's order
SHARE_COLLABORATE = 0.12  # of shares: colaborar
FORCED_PER_LEVEL = 3  # at least this many shares with each of the two levels above

# Who a lead institution shares a case with, and why. Some only when the case concerns them.
_SHARE_WITH = {
    "FISCALIA": (10, "Coordinación de la investigación con la fiscalía a cargo."),
    "PDI": (5, "Diligencias investigativas instruidas por la fiscalía a la BITRAP."),
    "CARABINEROS": (3, "Apoyo policial en las diligencias de la causa."),
    "SERMIG": (5, "Evaluación de residencia temporal para las víctimas extranjeras."),
    "OIM": (2, "Apoyo al retorno voluntario asistido de las víctimas que lo solicitaron."),
    "RAICES": (2, "Acompañamiento psicosocial de las víctimas."),
    "ACNUR": (1, "Evaluación de necesidades de protección internacional."),
    "MEJORNINEZ": (6, "Derivación de víctimas NNA a protección especializada."),
    "DEFENSORIANINEZ": (2, "Seguimiento de la situación de víctimas NNA."),
    "SERNAMEG": (4, "Derivación de víctimas a la casa de acogida para mujeres."),
    "DT": (5, "Fiscalización laboral vinculada a los hechos de la causa."),
}
_ONLY_WITH_MINORS = frozenset({"MEJORNINEZ", "DEFENSORIANINEZ"})
_ONLY_WITH_WOMEN = frozenset({"SERNAMEG"})
_ONLY_FOR_LABOUR = frozenset({"DT"})
_ONLY_WITH_FOREIGNERS = frozenset({"SERMIG", "OIM", "ACNUR"})


@dataclasses.dataclass(frozen=True)
class SharePlan:
    ruc: str
    lead: str  # institution short_name
    institution: str  # the grantee's short_name
    reason: str
    can_view_identity: bool = False
    can_collaborate: bool = False
    legal_basis: str = ""


def sharing_usernames() -> dict[str, str]:
    """Per institution, the demo case officer who shares its cases (only case officers may)."""
    officers: dict[str, str] = {}
    for user in DEMO_USERS:
        if user.institution and user.role == Role.CASE_OFFICER:
            officers.setdefault(user.institution, user.username)
    return officers


def _share_candidates(plan: CasePlan) -> dict[str, float]:
    minors = any(
        slot.age_status == AgeStatus.MINOR_UNKNOWN or (slot.age_at_facts is not None and slot.age_at_facts < 18)
        for slot in plan.victims
    )
    women = any(slot.person.sex == Sex.FEMALE for slot in plan.victims)
    foreigners = any(slot.person.nationality not in ("CL", UNKNOWN_NATIONALITY) for slot in plan.victims)
    return {
        institution: weight
        for institution, (weight, _) in _SHARE_WITH.items()
        if institution != plan.lead
        and (minors or institution not in _ONLY_WITH_MINORS)
        and (women or institution not in _ONLY_WITH_WOMEN)
        and (plan.purpose == TraffickingPurpose.LABOUR or institution not in _ONLY_FOR_LABOUR)
        and (foreigners or institution not in _ONLY_WITH_FOREIGNERS)
    }


def _legal_basis(rng: random.Random, plan: CasePlan) -> str:
    office = (
        FiscaliaRegional(plan.fiscalia_regional).label
        if plan.fiscalia_regional != FiscaliaRegional.UNKNOWN
        else "fiscalía a cargo de la causa"
    )
    number, year = rng.randrange(100, 9000), plan.facts.intake_date.year
    return (
        f"Orden del fiscal de la {office}, oficio N° {number}/{year}, que instruye compartir la identidad de "
        "las víctimas para coordinar su protección."
    )


def build_share_plan(plans: Sequence[CasePlan], *, seed: int = DEMO_SHARE_SEED) -> list[SharePlan]:
    """Which demo cases their lead institution shares, with whom and at what level: a pure
    function of the case plan and ``seed``.

    About a fifth of the cases, each with one or two institutions that the case concerns, at
    *ver*; a few at *colaborar*, a few at *ver identidad* on a prosecutor's order. Only cases
    whose lead has a demo case officer are shared: sharing is that officer's act.
    """
    rng = random.Random(seed)
    officers = sharing_usernames()
    eligible = [plan for plan in plans if plan.lead in officers]
    wanted = min(len(eligible), round(len(plans) * SHARED_CASE_SHARE))
    chosen = sorted(rng.sample(range(len(eligible)), wanted))
    shares: list[SharePlan] = []
    for index in chosen:
        plan = eligible[index]
        candidates = _share_candidates(plan)
        count = min(len(candidates), 1 if rng.random() < 0.7 else 2)
        for _ in range(count):
            institution = WeightedChoice(candidates)(rng)
            del candidates[institution]
            identity, collaborate = rng.random() < SHARE_IDENTITY, rng.random() < SHARE_COLLABORATE
            shares.append(
                SharePlan(
                    ruc=plan.ruc,
                    lead=plan.lead,
                    institution=institution,
                    reason=_SHARE_WITH[institution][1],
                    can_view_identity=identity,
                    can_collaborate=collaborate,
                    legal_basis=_legal_basis(rng, plan) if identity else "",
                )
            )
    # A small sample might miss a level: make sure the demo shows each a few times.
    by_ruc = {plan.ruc: plan for plan in eligible}
    for level in ("can_view_identity", "can_collaborate"):
        missing = FORCED_PER_LEVEL - sum(getattr(share, level) for share in shares)
        plain = [position for position, share in enumerate(shares) if not getattr(share, level)]
        for position in rng.sample(plain, max(0, missing)):
            share = shares[position]
            extra: dict[str, object] = {level: True}
            if level == "can_view_identity":
                extra["legal_basis"] = _legal_basis(rng, by_ruc[share.ruc])
            shares[position] = dataclasses.replace(share, **extra)
    return shares
