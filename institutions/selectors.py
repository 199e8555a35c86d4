"""Reads for the institutional administrator's pages: the members of one's own institution.

Every selector takes the user who asks. An institutional administrator sees the users of their
own institution and nobody else's: a user of another institution does not exist for them (404),
exactly like a case their institution cannot see.
"""

from __future__ import annotations

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from institutions.constants import Role
from institutions.models import User


def is_institution_admin(user) -> bool:
    """The role that manages the users of its own institution. Staff and superusers are not:
    system administrators manage accounts in the system admin."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.institution_id is not None
        and user.role == Role.INSTITUTION_ADMIN
    )


def _locked_out_now() -> Exists:
    """Whether django-axes refuses this username right now, from at least one IP address.

    Mirrors AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]: axes sums the failures of a
    username/IP pair (one AccessAttempt row per user agent) made within the cool-off period, and
    locks the pair when the sum reaches the failure limit (axes.handlers.database.get_failures).
    """
    threshold = timezone.now() - get_cool_off()
    failing_pairs = (
        AccessAttempt.objects.filter(username=OuterRef("username"), attempt_time__gte=threshold)
        .values("ip_address")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=get_failure_limit(None, None))
    )
    return Exists(failing_pairs)


def _with_account_state(users: QuerySet[User]) -> QuerySet[User]:
    """Annotated in the same query, so a page costs the same whatever the number of users."""
    return users.annotate(
        two_factor_enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        locked_out=_locked_out_now(),
    )


def institution_members(*, user) -> QuerySet[User]:
    """The members of the asking administrator's institution, with their 2FA and lockout state.
    Nobody else administers users here: for any other user, no rows."""
    if not is_institution_admin(user):
        return User.objects.none()
    # Machine clients' service users are registered and retired by the system administrator
    # (manage.py create_api_client / revoke_api_client), not here.
    members = User.objects.filter(institution_id=user.institution_id, is_api_client=False)
    return _with_account_state(members).order_by("last_name", "first_name", "username")


def institution_member_get(*, user, user_id: int) -> User:
    """One member of the asking administrator's institution; 404 for anyone else's user id."""
    member = institution_members(user=user).filter(pk=user_id).first()
    if member is None:
        raise Http404
    return member
