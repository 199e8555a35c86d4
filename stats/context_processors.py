"""Whether the header shows «Estadísticas»: read from the user's own flags, no query."""

from __future__ import annotations

from stats.access import can_read_statistics


def statistics(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"statistics_user": can_read_statistics(user)}
