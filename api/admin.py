from django.contrib import admin


# Registered by django-oauth-toolkit's admin (OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]).
class ApiClientAdmin(admin.ModelAdmin):
    """Read-only overview; clients are created with `manage.py create_api_client`, which shows
    the secret once (the admin form would ask the administrator to invent one)."""

    list_display = ("name", "client_id", "user", "allowed_scopes", "created")
    readonly_fields = ("name", "client_id", "user", "allowed_scopes", "created", "updated")
    exclude = ("client_secret",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
