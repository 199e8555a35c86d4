from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from institutions import auth_views as institution_auth_views
from kernel import audit_views
from kernel import views as kernel_views

admin.site.site_header = "Base de datos unificada MITP — administración del sistema"
admin.site.site_title = "Administración MITP"

urlpatterns = [
    path("", kernel_views.home, name="home"),
    path("ingresar/", institution_auth_views.LoginView.as_view(), name="login"),
    path("ingresar/verificar/", institution_auth_views.two_factor_verify_view, name="two_factor_verify"),
    path("ingresar/segundo-factor/", institution_auth_views.two_factor_enroll_view, name="two_factor_enroll"),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("salud/", kernel_views.health, name="health"),
    path("auditoria/", audit_views.institution_access_log_view, name="access_log"),
    path("", include("cases.urls")),
    path("", include("victims.urls")),
    path("", include("institutions.urls")),
    path("", include("protocol.urls")),
    path("", include("stats.urls")),
    path("api/v1/", include("config.api_urls")),
    path("o/", include("api.urls")),
    path("admin-sistema/", admin.site.urls),
]

handler404 = "kernel.views.page_not_found"
handler500 = "kernel.views.server_error"
