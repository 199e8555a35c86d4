from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from kernel import views as kernel_views

admin.site.site_header = "Base de datos unificada MITP — administración del sistema"
admin.site.site_title = "Administración MITP"

urlpatterns = [
    path("", kernel_views.home, name="home"),
    path("ingresar/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("salud/", kernel_views.health, name="health"),
    path("admin-sistema/", admin.site.urls),
]
