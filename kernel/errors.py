"""Domain errors and what error pages may show."""

from django.views.debug import SafeExceptionReporterFilter


class DomainError(Exception):
    """A rule of the domain refused an action. ``message`` is Spanish, for the user."""

    def __init__(self, message: str, *, code: str = "domain_error"):
        super().__init__(message)
        self.message = message
        self.code = code


class IdentitySafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports (debug pages, admin e-mails) show no local variables and no POST data.

    Any frame handling a victim may hold decrypted identity in a local; filtering by variable
    name is not enough, so every value is replaced.
    """

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return {key: self.cleansed_substitute for key in request.POST}
