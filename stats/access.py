"""Who reads the MITP statistics (issue 7): the Secretaría MITP, and users of a member
institution given the statistics capability. Statistics are counts only: reading them never
needs, and never gives, identity access."""

from __future__ import annotations

from institutions.models import User


def can_read_statistics(user: User) -> bool:
    """Active users of an active institution: the secretariat, or users given the capability in a
    member institution of the MITP (a deactivated institution, or one that left the Mesa, reads
    no figures). The institution is loaded with the user (institutions.backends): no query."""
    if not (user.is_authenticated and user.is_active and not user.is_api_client and user.institution_id is not None):
        return False
    institution = user.institution
    if not institution.is_active:
        return False
    return bool(user.is_mitp_secretariat or (user.has_statistics_access and institution.is_mitp_member))


def can_request_recalculation(user: User) -> bool:
    """The secretariat asks for a recalculation (a Celery task; the dashboard shows its progress)."""
    return can_read_statistics(user) and user.is_mitp_secretariat
