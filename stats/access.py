"""Who reads the MITP statistics (issue 7): the Secretaría MITP, and users of a member
institution given the statistics capability. Statistics are counts only: reading them never
needs, and never gives, identity access."""

from __future__ import annotations

from institutions.models import User


def can_read_statistics(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and not user.is_api_client
        and user.institution_id is not None
        and (user.is_mitp_secretariat or user.has_statistics_access)
    )


def can_request_recalculation(user: User) -> bool:
    """The secretariat asks for a recalculation (a Celery task; the dashboard shows its progress)."""
    return can_read_statistics(user) and user.is_mitp_secretariat
