from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from kernel import audit_views
from kernel import views as kernel_views

admin.site.site_header = "Base de datos unificada MITP — administración del sistema"
admin.site.site_title = "Administración MITP"

urlpatterns = [
    path("", kernel_views.home, name="home"),
    path("ingresar/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("salud/", kernel_views.health, name="health"),
    path("auditoria/", audit_views.institution_access_log_view, name="access_log"),
    path("", include("cases.urls")),
    path("", include("victims.urls")),
    path("api/v1/", include("config.api_urls")),
    path("admin-sistema/", admin.site.urls),
]
