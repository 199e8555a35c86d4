from django.contrib.auth.backends import ModelBackend

from institutions.models import User


class InstitutionModelBackend(ModelBackend):
    """Django's backend, loading the user's institution with the user: every request needs it
    (visibility goes through the institution's group), so it costs no extra query."""

    def user_can_authenticate(self, user) -> bool:
        # A machine client's service user acts only through OAuth2 tokens (api/): never a session.
        return super().user_can_authenticate(user) and not getattr(user, "is_api_client", False)

    def get_user(self, user_id):
        user = User._default_manager.select_related("institution").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
