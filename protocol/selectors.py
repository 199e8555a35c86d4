"""Reads of protocol activations, by what the asking user's institution may see.

An activation is visible to every institution that can see its victim
(victims.selectors.victim_list), the activating one included: an institution that loses sight
of the victim (a share revoked) loses the activation with it. Who asked on the victim's behalf
(encrypted) is never loaded here: only protocol.services.activation_requester_reveal reads it,
for the activating institution, audited.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from cases.access import NOT_FOUND_MESSAGE
from institutions.models import User
from protocol.models import Notification, ProtocolActivation
from victims.identity import IDENTITY_FIELDS
from victims.selectors import victim_list


def institution_reader(institution_id: int) -> User:
    """An unsaved stand-in for "any member of this institution": what the selectors decide for
    a user they decide for its institution (a role only narrows writes), so asking with it tells
    what the institution itself may see now. Never saved, never signed in."""
    return User(institution_id=institution_id, is_active=True)


def activation_list(*, user: User) -> QuerySet[ProtocolActivation]:
    if not user.is_authenticated or not user.is_active or user.institution_id is None:
        return ProtocolActivation.objects.none()
    return (
        ProtocolActivation.objects.filter(victim__in=victim_list(user=user).values("pk"))
        .select_related("institution", "victim")
        .defer("requester_name", "requester_contact", *(f"victim__{name}" for name in IDENTITY_FIELDS))
    )


def activation_get(*, user: User, activation_id) -> ProtocolActivation:
    activation = activation_list(user=user).filter(pk=activation_id).first()
    if activation is None:
        raise Http404(NOT_FOUND_MESSAGE)
    return activation


def victim_activations(*, user: User, victim_id) -> QuerySet[ProtocolActivation]:
    """A victim's activations, newest first, with their timelines (callers check the victim)."""
    return activation_list(user=user).filter(victim_id=victim_id).prefetch_related("transitions")


# --- notifications (the header's count and the list) -----------------------------------------


def notification_list(*, user: User) -> QuerySet[Notification]:
    """A user's own notices, newest first. Nobody reads another person's."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user).select_related("referral", "residence_reminder")


def unread_notification_count(*, user: User) -> int:
    return notification_list(user=user).filter(read_at__isnull=True).count()


def notifications_mark_read(*, user: User) -> int:
    """The user has seen their notices (only their own: the filter is the recipient)."""
    return notification_list(user=user).filter(read_at__isnull=True).update(read_at=timezone.now())
