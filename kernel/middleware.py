from pghistory.middleware import HistoryMiddleware


class AuditContextMiddleware(HistoryMiddleware):
    """Adds the acting institution to pghistory's context (user and URL come from pghistory)."""

    def get_context(self, request):
        context = super().get_context(request)
        user = getattr(request, "user", None)
        context["institution"] = getattr(user, "institution_id", None)
        return context
