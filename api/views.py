"""The integrators' reference page: Swagger UI from drf-spectacular-sidecar (served from our own
static files, no CDN), with its styles in a static file so the strict CSP holds."""

from django.http import HttpResponse
from drf_spectacular.views import SpectacularSwaggerSplitView

from kernel.api_errors import problem_response


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        # A page to read: any other method is a 405 here, before DRF would render its error
        # through this view's HTML template (which expects the page's context).
        if request.method not in ("GET", "HEAD"):
            response = problem_response(405, "Esta página solo se lee (GET).")
            response["Allow"] = "GET, HEAD"
            return response
        return super().dispatch(request, *args, **kwargs)
