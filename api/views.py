"""The integrators' reference page: Swagger UI from drf-spectacular-sidecar (served from our own
static files, no CDN), with its styles in a static file so the strict CSP holds."""

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
