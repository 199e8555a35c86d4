from django.contrib.auth.backends import ModelBackend

from institutions.models import User


class InstitutionModelBackend(ModelBackend):
    """Django's backend, loading the user's institution with the user: every request needs it
    (visibility goes through the institution's group), so it costs no extra query."""

    def user_can_authenticate(self, user) -> bool:
        # A machine client's service user acts only through OAuth2 tokens (api/): never a session.
        # A deactivated institution's users are out too, as the API already has them
        # (api.authentication): deactivating an institution ends its open sessions. Staff with no
        # institution are not concerned.
        if not super().user_can_authenticate(user) or getattr(user, "is_api_client", False):
            return False
        institution = user.institution if user.institution_id is not None else None
        return institution is None or institution.is_active

    def get_user(self, user_id):
        user = User._default_manager.select_related("institution").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
