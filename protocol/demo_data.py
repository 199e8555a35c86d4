"""The Protocolo de Atención in the demo set (``seed_demo``): activations in every state, a person
registered with the protocol alone, referrals in every state to varied providers (one shelter
referral overdue), and Sermig's residence queue in every state with a permit about to expire and
a renewal.

``build_protocol_plan`` is a pure function of the demo case plan and a seed: which demo victims,
which institutions and what happens to each. ``protocol_demo_seed`` carries the plan out through
the domain services, as each institution's demo case officer and Sermig's, so every state is
reached by its transitions (the database refuses any other way) and leaves its timeline.
Idempotent: a victim who already has an activation (or a residence application) is left as it is.

Dates: the activations are requested some days before today and their moves happen now (the
timeline's times are the services'); a permit's validity is set around today, so the one meant
to expire within 60 days does.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections import Counter
from collections.abc import Callable, Sequence

from django.utils import timezone

from cases.demo_data import (
    DEMO_SEED,
    DEMO_USERS,
    UNKNOWN_NATIONALITY,
    CasePlan,
    DocumentDrawer,
    PersonPlan,
    draw_name,
    draw_phone,
    sharing_usernames,
)
from institutions.models import Institution, User
from kernel.choices import Sex
from kernel.identity_documents import document_blind_index
from protocol.constants import (
    ActivationAction,
    ActivationState,
    ReferralAction,
    ReferralState,
    RequestedBy,
    ResidenceAction,
    ResidenceState,
    ServiceType,
)
from protocol.models import ProtocolActivation, Referral, ResidenceApplication
from protocol.referrals import referral_create, referral_transition
from protocol.residence import residence_derive, residence_transition
from protocol.services import activation_open, activation_open_for_new_person, activation_transition
from victims.models import CaseVictim, Victim

DEMO_PROTOCOL_SEED = DEMO_SEED + 2  # a generator of its own: the cases and shares stay as they were
RECENT_YEAR = 2022  # victims of recent cases are the ones entering the protocol now
NEW_PERSON = ("", -1)  # the victim key of the person registered with the protocol alone
OVERDUE_BY = datetime.timedelta(hours=6)  # how far past its deadline the overdue shelter referral is

A, S = ActivationAction, ActivationState
RA, RS = ReferralAction, ReferralState
SA, SS = ResidenceAction, ResidenceState

# How the services bring a new activation (solicitada) to each state.
ACTIVATION_PATH: dict[str, tuple[str, ...]] = {
    S.REQUESTED: (),
    S.EVALUATING: (A.EVALUATE,),
    S.ACTIVE: (A.EVALUATE, A.ACTIVATE),
    S.CLOSED: (A.EVALUATE, A.ACTIVATE, A.CLOSE),
    S.REJECTED: (A.EVALUATE, A.REJECT),
    S.DECLINED: (A.EVALUATE, A.DECLINE),
}
ACTIVATION_REASONS = {
    A.CLOSE: "Se cumplieron los objetivos del plan de intervención; la víctima cuenta con red de apoyo.",
    A.REJECT: "No se observan indicadores de trata de personas; se orienta a la red de atención a víctimas.",
    A.DECLINE: "La víctima decidió no continuar en el protocolo y volver a su país por sus propios medios.",
}
# How the services bring a new referral (pendiente) to each state.
REFERRAL_PATH: dict[str, tuple[str, ...]] = {
    RS.PENDING: (),
    RS.ACCEPTED: (RA.ACCEPT,),
    RS.REJECTED: (RA.REJECT,),
    RS.IN_PROGRESS: (RA.ACCEPT, RA.START),
    RS.COMPLETED: (RA.ACCEPT, RA.START, RA.COMPLETE),
    RS.CANCELLED: (RA.CANCEL,),
}
REFERRAL_NOTES = {
    RA.REJECT: "Sin cupo disponible en el programa; se sugiere derivar a otra institución.",
    RA.CANCEL: "La víctima ya recibe este servicio por otra vía.",
    RA.COMPLETE: "Atención completada según el plan acordado.",
}
# How Sermig brings a new application (derivada) to each state.
RESIDENCE_PATH: dict[str, tuple[str, ...]] = {
    SS.DERIVED: (),
    SS.RECEIVED: (SA.RECEIVE,),
    SS.PROCESSING: (SA.RECEIVE, SA.PROCESS),
    SS.GRANTED: (SA.RECEIVE, SA.PROCESS, SA.GRANT),
    SS.REJECTED: (SA.RECEIVE, SA.PROCESS, SA.REJECT),
}
RESIDENCE_REJECTION = "No se acompañaron los antecedentes que acreditan la calidad de víctima."
PERMIT_DAYS = 365


@dataclasses.dataclass(frozen=True)
class ReferralSpec:
    service_type: str
    provider: str  # institution short_name
    state: str
    overdue: bool = False  # left pendiente past its deadline (the inbox's "atrasada")
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ActivationSpec:
    victim: tuple[str, int]  # (RUC, position among the case's victims), or NEW_PERSON
    institution: str  # the activating institution (the victim's lead), short_name
    state: str
    requested_by: str
    requested_days_ago: int
    consent: bool
    requester: tuple[str, str] | None = None  # a third party's name and contact
    referrals: tuple[ReferralSpec, ...] = ()


@dataclasses.dataclass(frozen=True)
class ResidenceSpec:
    victim: tuple[str, int]
    institution: str  # the deriving institution, short_name
    state: str
    days_left: int | None = None  # a granted permit ends this many days from today
    renewal_state: str | None = None  # a renewal of the granted permit, in this state
    permit_number: str = ""


@dataclasses.dataclass(frozen=True)
class ProtocolPlan:
    activations: tuple[ActivationSpec, ...]
    new_person: PersonPlan
    new_person_institution: str
    residence: tuple[ResidenceSpec, ...]


@dataclasses.dataclass(frozen=True)
class _Candidate:
    ruc: str
    position: int
    lead: str
    person: PersonPlan
    recent: bool

    @property
    def key(self) -> tuple[str, int]:
        return (self.ruc, self.position)


def _adult_woman(c: _Candidate) -> bool:
    return c.person.sex == Sex.FEMALE and c.person.birth_year is not None and c.person.birth_year <= 2000


def _foreign(c: _Candidate) -> bool:
    return c.person.nationality not in ("CL", UNKNOWN_NATIONALITY)


def _anyone(c: _Candidate) -> bool:
    return True


class _Picker:
    """Draws demo victims (never the same person twice) whose case is led by an institution
    with a demo case officer, preferring recent cases."""

    def __init__(self, rng: random.Random, plans: Sequence[CasePlan], officers: dict[str, str]):
        self.rng = rng
        self.used: set[int] = set()
        self.candidates = [
            _Candidate(plan.ruc, position, plan.lead, slot.person, plan.facts.intake_date.year >= RECENT_YEAR)
            for plan in plans
            if plan.lead in officers
            for position, slot in enumerate(plan.victims)
            if slot.first_seen is None
        ]

    def __call__(self, wanted: Callable[[_Candidate], bool], *, not_led_by: frozenset[str] = frozenset()) -> _Candidate:
        fitting = [c for c in self.candidates if id(c.person) not in self.used and c.lead not in not_led_by]
        fitting = [c for c in fitting if wanted(c)]
        recent = [c for c in fitting if c.recent]
        chosen = self.rng.choice(recent or fitting)
        self.used.add(id(chosen.person))
        return chosen


def build_protocol_plan(plans: Sequence[CasePlan], *, seed: int = DEMO_PROTOCOL_SEED) -> ProtocolPlan:
    """What the demo shows of the protocol: a pure function of the case plan and ``seed``."""
    rng = random.Random(seed)
    pick = _Picker(rng, plans, sharing_usernames())
    # Providers that answer (accept, reject, start, complete) have a demo case officer; the
    # others (MINSAL, OIM, DT, MINEDUC) only receive.
    shelter_women = pick(_adult_woman, not_led_by=frozenset({"SERNAMEG", "RAICES"}))
    completed = pick(_adult_woman, not_led_by=frozenset({"SERNAMEG", "RAICES"}))
    closed = pick(_anyone, not_led_by=frozenset({"RAICES"}))
    activations = (
        ActivationSpec(
            pick(_anyone).key,
            "",
            S.REQUESTED,
            RequestedBy.THIRD_PARTY,
            2,
            consent=False,
            requester=("Marta Huanca Condori (hermana)", "+56 9 5555 0101"),
        ),
        ActivationSpec(pick(_anyone).key, "", S.EVALUATING, RequestedBy.VICTIM, 5, consent=True),
        ActivationSpec(
            shelter_women.key,
            shelter_women.lead,
            S.ACTIVE,
            RequestedBy.INSTITUTION,
            9,
            consent=True,
            referrals=(
                ReferralSpec(
                    ServiceType.SHELTER, "SERNAMEG", RS.PENDING, overdue=True, note="Requiere cupo esta misma noche."
                ),
                ReferralSpec(ServiceType.MENTAL_HEALTH, "RAICES", RS.ACCEPTED),
                ReferralSpec(ServiceType.LEGAL_AID, "RAICES", RS.IN_PROGRESS),
                ReferralSpec(ServiceType.HEALTH, "MINSAL", RS.PENDING, note="Control de salud general."),
            ),
        ),
        ActivationSpec(
            completed.key,
            completed.lead,
            S.ACTIVE,
            RequestedBy.VICTIM,
            40,
            consent=True,
            referrals=(
                ReferralSpec(ServiceType.SHELTER, "SERNAMEG", RS.COMPLETED),
                ReferralSpec(ServiceType.RETURN, "OIM", RS.PENDING, note="Evaluar retorno voluntario asistido."),
                ReferralSpec(ServiceType.MENTAL_HEALTH, "RAICES", RS.REJECTED),
                ReferralSpec(ServiceType.WORK, "DT", RS.CANCELLED),
                ReferralSpec(ServiceType.EDUCATION, "MINEDUC", RS.PENDING),
            ),
        ),
        ActivationSpec(
            closed.key,
            closed.lead,
            S.CLOSED,
            RequestedBy.INSTITUTION,
            120,
            consent=True,
            referrals=(ReferralSpec(ServiceType.MENTAL_HEALTH, "RAICES", RS.COMPLETED),),
        ),
        ActivationSpec(pick(_anyone).key, "", S.REJECTED, RequestedBy.INSTITUTION, 30, consent=False),
        ActivationSpec(pick(_anyone).key, "", S.DECLINED, RequestedBy.VICTIM, 20, consent=True),
    )
    leads = {c.key: c.lead for c in pick.candidates}
    activations = tuple(
        dataclasses.replace(spec, institution=spec.institution or leads[spec.victim]) for spec in activations
    )

    # A person with no criminal case, registered by the NGO with the protocol alone, sheltered
    # and derived to Sermig by it.
    person_rng = random.Random(seed + 1)
    given, surnames = draw_name(person_rng, "VE", Sex.FEMALE)
    document_type, document_number = DocumentDrawer(person_rng).draw("VE", 1997, always=True)
    new_person = PersonPlan(
        given_names=given,
        surnames=surnames,
        document_type=document_type,
        document_number=document_number,
        sex=Sex.FEMALE,
        nationality="VE",
        birth_year=1997,
        phone=draw_phone(person_rng),
    )
    activations += (
        ActivationSpec(
            NEW_PERSON,
            "RAICES",
            S.ACTIVE,
            RequestedBy.VICTIM,
            12,
            consent=True,
            referrals=(ReferralSpec(ServiceType.SHELTER, "SERNAMEG", RS.ACCEPTED),),
        ),
    )

    def permit() -> str:
        return f"RTH-{rng.randrange(2024, 2027)}-{rng.randrange(1, 999_999):06d}"

    queue = []
    not_sermig = frozenset({"SERMIG"})  # derived by another institution: Sermig only decides
    for state in (SS.RECEIVED, SS.PROCESSING, SS.REJECTED):
        victim = pick(_foreign, not_led_by=not_sermig)
        queue.append(ResidenceSpec(victim.key, victim.lead, state))
    expiring = pick(_foreign, not_led_by=not_sermig)
    queue.append(ResidenceSpec(expiring.key, expiring.lead, SS.GRANTED, days_left=45, permit_number=permit()))
    renewed = pick(_foreign, not_led_by=not_sermig)
    queue.append(
        ResidenceSpec(
            renewed.key,
            renewed.lead,
            SS.GRANTED,
            days_left=20,
            renewal_state=SS.RECEIVED,
            permit_number=permit(),
        )
    )
    queue.append(ResidenceSpec(NEW_PERSON, "RAICES", SS.DERIVED))
    return ProtocolPlan(activations, new_person, "RAICES", tuple(queue))


# --- carrying the plan out ------------------------------------------------------------------------


class _Seeder:
    def __init__(self, plan: ProtocolPlan, users: dict[str, User], created: Counter[str]):
        self.plan = plan
        self.created = created
        self.today = timezone.localdate()
        self.officers = {short_name: users[name] for short_name, name in sharing_usernames().items()}
        self.sermig = next(users[user.username] for user in DEMO_USERS if user.is_sermig_officer)
        self.providers = dict(Institution.objects.values_list("short_name", "pk"))

    def victim(self, key: tuple[str, int]) -> Victim | None:
        if key == NEW_PERSON:
            person = self.plan.new_person
            index = document_blind_index(person.document_type, person.document_number)
            return Victim.objects.filter(document_index=index).first()
        ruc, position = key
        links = CaseVictim.objects.filter(case__ruc=ruc).select_related("victim").order_by("id")
        link = links[position : position + 1].first()
        return link.victim if link else None

    # activations and referrals

    def activation(self, spec: ActivationSpec) -> None:
        officer = self.officers[spec.institution]
        victim = self.victim(spec.victim)
        if victim is not None and ProtocolActivation.objects.filter(victim=victim).exists():
            return
        requested_on = self.today - datetime.timedelta(days=spec.requested_days_ago)
        details = {
            "requested_by": spec.requested_by,
            "requested_on": requested_on,
            "consent_on": requested_on + datetime.timedelta(days=1) if spec.consent else None,
        }
        if spec.requester:
            details["requester_name"], details["requester_contact"] = spec.requester
        if spec.victim == NEW_PERSON:
            if victim is not None:
                return  # registered by an earlier run, whose activation was since removed
            person = self.plan.new_person
            activation = activation_open_for_new_person(
                actor=officer,
                person={
                    "given_names": person.given_names,
                    "surnames": person.surnames,
                    "document_type": person.document_type,
                    "document_number": person.document_number,
                    "sex": person.sex,
                    "nationality": person.nationality,
                    "birth_year": person.birth_year,
                    "phone": person.phone,
                },
                **details,
            )
            self.created["persons without a case"] += 1
        elif victim is None:
            return  # its case is not there (deleted since): nothing to activate for
        else:
            activation = activation_open(actor=officer, victim_id=victim.pk, **details)
        self.created["protocol activations"] += 1
        path = ACTIVATION_PATH[spec.state]
        before_close = path[:-1] if spec.state == S.CLOSED else path
        for action in before_close:
            self.move_activation(officer, activation, action)
        for referral in spec.referrals:
            self.referral(officer, activation, referral)
        if spec.state == S.CLOSED:
            self.move_activation(officer, activation, A.CLOSE)

    def move_activation(self, officer: User, activation: ProtocolActivation, action: str) -> None:
        activation_transition(
            actor=officer, activation_id=activation.pk, action=action, note=ACTIVATION_REASONS.get(action, "")
        )

    def referral(self, officer: User, activation: ProtocolActivation, spec: ReferralSpec) -> None:
        referral = referral_create(
            actor=officer,
            activation_id=activation.pk,
            service_type=spec.service_type,
            provider_id=self.providers[spec.provider],
            note=spec.note,
        )
        self.created["referrals"] += 1
        for action in REFERRAL_PATH[spec.state]:
            actor = officer if action == RA.CANCEL else self.officers[spec.provider]
            referral_transition(
                actor=actor, referral_id=referral.pk, action=action, note=REFERRAL_NOTES.get(action, "")
            )
        if spec.overdue:
            # Requested a day and a half ago, and unanswered past its 24 hours: the inbox shows it
            # first, and the beat job tells the provider. Only its dates move (the state is the
            # services'; the database refuses any other change of it).
            due = timezone.now() - OVERDUE_BY
            hours = referral.response_due_at - referral.requested_at
            Referral.objects.filter(pk=referral.pk).update(requested_at=due - hours, response_due_at=due)

    # residence

    def residence(self, spec: ResidenceSpec) -> None:
        victim = self.victim(spec.victim)
        if victim is None or ResidenceApplication.objects.filter(victim=victim).exists():
            return
        officer = self.officers[spec.institution]
        application = residence_derive(actor=officer, victim_id=victim.pk, note="Víctima extranjera en el protocolo.")
        self.created["residence applications"] += 1
        valid_until = self.today + datetime.timedelta(days=spec.days_left or PERMIT_DAYS)
        self.move_application(application, RESIDENCE_PATH[spec.state], spec.permit_number, valid_until)
        if spec.renewal_state:
            renewal = residence_derive(
                actor=officer, victim_id=victim.pk, renews_id=application.pk, note="Renovación del permiso."
            )
            self.created["residence applications"] += 1
            self.move_application(renewal, RESIDENCE_PATH[spec.renewal_state], "", valid_until)

    def move_application(
        self, application: ResidenceApplication, path: Sequence[str], permit_number: str, valid_until: datetime.date
    ) -> None:
        for action in path:
            extra: dict[str, object] = {}
            if action == SA.GRANT:
                extra = {
                    "permit_number": permit_number,
                    "valid_from": valid_until - datetime.timedelta(days=PERMIT_DAYS),
                    "valid_until": valid_until,
                }
            if action == SA.REJECT:
                extra = {"note": RESIDENCE_REJECTION}
            residence_transition(actor=self.sermig, application_id=application.pk, action=action, **extra)


def protocol_demo_seed(plans: Sequence[CasePlan], *, users: dict[str, User], created: Counter[str]) -> None:
    """Carry out build_protocol_plan(plans) (see the module's docstring); counts what it creates."""
    plan = build_protocol_plan(plans)
    seeder = _Seeder(plan, users, created)
    for spec in plan.activations:
        seeder.activation(spec)
    for spec in plan.residence:
        seeder.residence(spec)
