"""The three registers the MITP statistics are computed for, and how each dates its records.

Every register is read through the other apps' querysets with statistical fields only
(``values()`` of sex, nationality, ages, purpose, region, dates): identity fields are never
selected, so nothing is ever decrypted. See docs/statistics.md for the definitions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Register(models.TextChoices):
    FORMALISED = "formalizadas", _("Causas formalizadas")
    IDENTIFIED = "identificadas", _("Causas identificadas")
    PROTOCOL = "protocolo", _("Ingresos al Protocolo de Atención")


REGISTERS: tuple[str, ...] = tuple(Register.values)
REGISTER_LABELS: dict[str, str] = {value: str(label) for value, label in Register.choices}


@dataclass(frozen=True)
class CaseRegister:
    """A register made of criminal cases: which cases belong to it and which date gives their year."""

    key: str
    date_field: str  # on cases.Case: the date whose year the case is counted in
    only_formalised: bool
    # Where a victim is counted geographically: the region where detected (the link's, else the
    # case's) for formalised cases; the case's fiscalía regional for identified cases.
    by_fiscalia: bool

    def cases_q(self, *, year_from: int, year_to: int, prefix: str = "") -> Q:
        """The register's cases whose year falls in [year_from, year_to]; ``prefix`` is the path
        to the case (``"case__"`` from a CaseVictim or CaseOffender)."""
        condition = Q(
            **{
                f"{prefix}{self.date_field}__gte": datetime.date(year_from, 1, 1),
                f"{prefix}{self.date_field}__lte": datetime.date(year_to, 12, 31),
            }
        )
        if self.only_formalised:
            condition &= Q(**{f"{prefix}is_formalised": True})
        return condition


CASE_REGISTERS: dict[str, CaseRegister] = {
    Register.FORMALISED: CaseRegister(
        key=Register.FORMALISED, date_field="investigation_start_date", only_formalised=True, by_fiscalia=False
    ),
    Register.IDENTIFIED: CaseRegister(
        key=Register.IDENTIFIED, date_field="intake_date", only_formalised=False, by_fiscalia=True
    ),
}
