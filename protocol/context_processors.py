"""The header's notice count and the links only some users need (Sermig's queue)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from protocol.residence import has_sermig_capability
from protocol.selectors import unread_notification_count


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_verified():
        return {}
    # Lazy: a page that does not show the header (a fragment) costs no query.
    return {
        "unread_notifications": SimpleLazyObject(lambda: unread_notification_count(user=user)),
        "sermig_user": SimpleLazyObject(lambda: has_sermig_capability(user)),
    }
