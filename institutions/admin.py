"""System administrators manage institutions and accounts here. Case content is never
registered in the admin: being staff or superuser opens no case and shows no identity."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from institutions.models import Institution, User


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["short_name", "name", "kind", "region", "is_mitp_member", "is_active", "sync_sources"]
    list_filter = ["kind", "is_mitp_member", "is_active", "region"]
    search_fields = ["short_name", "name"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "institution", "role", "is_active", "is_staff"]
    list_filter = [
        "institution",
        "role",
        "is_active",
        "is_staff",
        "is_mitp_secretariat",
        "is_sermig_officer",
        "has_statistics_access",
    ]
    list_select_related = ["institution"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            _("Institución"),
            {"fields": ("institution", "role", "is_mitp_secretariat", "is_sermig_officer", "has_statistics_access")},
        ),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (
            _("Institución"),
            {"fields": ("institution", "role", "is_mitp_secretariat", "is_sermig_officer", "has_statistics_access")},
        ),
    )
