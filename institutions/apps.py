from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "institutions"
    verbose_name = "Instituciones"

    def ready(self) -> None:
        # Django records last_login when the password is accepted; here a sign-in is complete
        # only after the second factor, and institutions.two_factor records it then.
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
