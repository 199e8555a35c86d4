from django.utils.cache import add_never_cache_headers
from pghistory.middleware import HistoryMiddleware


class AuditContextMiddleware(HistoryMiddleware):
    """Adds the acting institution to pghistory's context (user and URL come from pghistory)."""

    def get_context(self, request):
        context = super().get_context(request)
        user = getattr(request, "user", None)
        context["institution"] = getattr(user, "institution_id", None)
        return context


class NoStoreWhenSignedInMiddleware:
    """Every answer to a signed-in user may carry case or victim data: no browser or proxy may
    keep it (Cache-Control: no-store). Views that show identity also say so themselves
    (kernel.web.confidential); this is the net under every other page, present and future."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
            response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
        return response
