"""``manage.py seed_demo``: the demo institutions, logins and about 300 cases, a fifth of them
shared with other institutions, and the Protocolo de Atención (activations, referrals and Sermig's
residence queue: protocol.demo_data). Idempotent.

Rows are keyed by natural keys (institution short name, username, case RUC, and case plus
grantee for a share): whatever exists is left exactly as it is, whatever is missing is created.
A share that was revoked since counts as existing and is not granted again. Cases and shares go
through the same services as the UI and the API (shares as the lead's demo case officer), so
the demo set passes every validation and leaves every audit event real data would.
"""

from __future__ import annotations

import time
from collections import Counter

from django.contrib.auth.password_validation import validate_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from cases import demo_data
from cases.demo_data import DEMO_PASSWORD, DEMO_USERS, INSTITUTIONS, CasePlan, PersonPlan, VictimSlot
from cases.models import Case, CaseShare
from cases.services import case_create, offender_link_to_case, offender_register
from cases.sharing import case_share
from institutions.models import Institution, User
from protocol.demo_data import protocol_demo_seed
from victims.models import CaseVictim, Victim
from victims.services import victim_link_to_case, victim_register


class Command(BaseCommand):
    help = (
        "Create the demo MITP institutions, demo logins (one shared password) and about 300 cases with "
        "victims and offenders, a fifth of them shared with other institutions, and protocol activations, "
        "referrals and residence applications in every state. Idempotent: existing rows are left untouched. "
        "Prints the demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even with production settings (only on a throw-away demo server)",
        )

    def handle(self, *args, allow_production: bool, **options):
        demo_data.refuse_in_production("seed_demo", allowed=allow_production)
        started = time.perf_counter()
        created: Counter[str] = Counter()
        with transaction.atomic():
            institutions = self._institutions(created)
            users = self._users(institutions, created)
            plan = demo_data.build_demo_plan(today=timezone.localdate())
            self._cases(plan, institutions, users, created)
            self._shares(plan, institutions, users, created)
            protocol_demo_seed(plan, users=users, created=created)
        elapsed = time.perf_counter() - started

        created = +created  # drop the zero counts
        if created:
            summary = ", ".join(f"{count} {what}" for what, count in created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data created in {elapsed:.1f} s: {summary}."))
        else:
            self.stdout.write(self.style.SUCCESS("Demo data already present: nothing was created."))
        self._print_logins()

    # --- institutions and users -------------------------------------------------------------

    def _institutions(self, created: Counter[str]) -> dict[str, Institution]:
        institutions = {}
        for spec in INSTITUTIONS:
            institution, was_created = Institution.objects.get_or_create(
                short_name=spec.short_name,
                defaults={"name": spec.name, "kind": spec.kind, "is_mitp_member": spec.is_mitp_member},
            )
            institutions[spec.short_name] = institution
            created["institutions"] += was_created
        return institutions

    def _users(self, institutions: dict[str, Institution], created: Counter[str]) -> dict[str, User]:
        users = {}
        for spec in DEMO_USERS:
            user = User.objects.filter(username=spec.username).first()
            if user is None:
                user = User(
                    username=spec.username,
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    email=f"{spec.username}@demo.invalid",
                    institution=institutions[spec.institution] if spec.institution else None,
                    role=spec.role,
                    is_mitp_secretariat=spec.is_mitp_secretariat,
                    is_sermig_officer=spec.is_sermig_officer,
                    is_staff=spec.is_system_admin,
                    is_superuser=spec.is_system_admin,
                )
                validate_password(DEMO_PASSWORD, user)  # the demo password must pass the real rules
                user.set_password(DEMO_PASSWORD)
                user.full_clean()
                user.save()
                created["users"] += 1
            users[spec.username] = user
        return users

    # --- cases ------------------------------------------------------------------------------

    def _cases(
        self,
        plan: list[CasePlan],
        institutions: dict[str, Institution],
        users: dict[str, User],
        created: Counter[str],
    ) -> None:
        existing = set(Case.objects.filter(ruc__in=[case.ruc for case in plan]).values_list("ruc", flat=True))
        actors = {short_name: users[username] for short_name, username in demo_data.acting_usernames().items()}
        registered: dict[tuple[str, int], Victim] = {}  # (RUC, position) -> victim, for returning victims
        for case_plan in plan:
            if case_plan.ruc in existing:
                continue
            self._create_case(case_plan, institutions[case_plan.lead], actors.get(case_plan.lead), registered)
            created["cases"] += 1
            created["victims"] += sum(slot.first_seen is None for slot in case_plan.victims)
            created["offenders"] += len(case_plan.offenders)

    def _create_case(
        self,
        case_plan: CasePlan,
        lead: Institution,
        actor: User | None,
        registered: dict[tuple[str, int], Victim],
    ) -> None:
        case = case_create(
            actor=actor,
            lead_institution=lead,
            data=case_plan.data,
            external_references=case_plan.external_references,
        )
        for position, slot in enumerate(case_plan.victims):
            if slot.first_seen is None:
                victim = self._register_victim(slot.person, lead, actor)
            else:
                victim = registered.get(slot.first_seen) or self._victim_registered_earlier(slot)
            registered[(case_plan.ruc, position)] = victim
            victim_link_to_case(
                actor=actor,
                victim=victim,
                case=case,
                age_status=slot.age_status,
                age_at_facts=slot.age_at_facts,
                identified_date=slot.identified_date,
            )
        for offender_plan in case_plan.offenders:
            person = offender_plan.person
            offender = offender_register(
                actor=actor,
                given_names=person.given_names,
                surnames=person.surnames,
                document_type=person.document_type,
                document_number=person.document_number,
                sex=person.sex,
                nationality=person.nationality,
            )
            offender_link_to_case(
                actor=actor,
                offender=offender,
                case=case,
                is_formalised=offender_plan.is_formalised,
                is_convicted=offender_plan.is_convicted,
                sentence_date=offender_plan.sentence_date,
            )

    def _shares(
        self,
        plan: list[CasePlan],
        institutions: dict[str, Institution],
        users: dict[str, User],
        created: Counter[str],
    ) -> None:
        shares = demo_data.build_share_plan(plan)
        rucs = {share.ruc for share in shares}
        case_ids = dict(Case.objects.filter(ruc__in=rucs).values_list("ruc", "id"))
        existing = set(CaseShare.objects.filter(case__ruc__in=rucs).values_list("case__ruc", "institution__short_name"))
        officers = {short_name: users[username] for short_name, username in demo_data.sharing_usernames().items()}
        for share in shares:
            if (share.ruc, share.institution) in existing:
                continue
            case_share(
                actor=officers[share.lead],
                case_id=case_ids[share.ruc],
                institution=institutions[share.institution],
                reason=share.reason,
                can_view_identity=share.can_view_identity,
                can_collaborate=share.can_collaborate,
                legal_basis=share.legal_basis,
            )
            created["shares"] += 1

    @staticmethod
    def _register_victim(person: PersonPlan, institution: Institution, actor: User | None) -> Victim:
        return victim_register(
            actor=actor,
            institution=institution,
            given_names=person.given_names,
            surnames=person.surnames,
            document_type=person.document_type,
            document_number=person.document_number,
            birth_date=person.birth_date,
            phone=person.phone,
            sex=person.sex,
            nationality=person.nationality,
            birth_year=person.birth_year,
            age_at_identification=person.age_at_identification,
        )

    @staticmethod
    def _victim_registered_earlier(slot: VictimSlot) -> Victim:
        """A returning victim whose first case was created by an earlier run: found by position."""
        ruc, position = slot.first_seen  # type: ignore[misc]
        link = CaseVictim.objects.filter(case__ruc=ruc).select_related("victim").order_by("id")[position]
        return link.victim

    # --- output -----------------------------------------------------------------------------

    def _print_logins(self) -> None:
        rows = [("Usuario", "Institución", "Rol / capacidad", "Contraseña")]
        rows += [(u.username, u.institution or "-", u.capability, DEMO_PASSWORD) for u in DEMO_USERS]
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        self.stdout.write("\nDemo logins (demo data only; never use this password elsewhere):")
        for index, row in enumerate(rows):
            self.stdout.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
            if index == 0:
                self.stdout.write("  " + "  ".join("-" * width for width in widths))
