"""The protocol's reference data for system administrators: the response deadline of each
service type. Nothing of a victim's protocol (activations, referrals, residence applications,
notifications) is registered: being staff or superuser opens none of it."""

from django.contrib import admin

from protocol.models import ServiceDeadline


@admin.register(ServiceDeadline)
class ServiceDeadlineAdmin(admin.ModelAdmin):
    list_display = ["service_type", "response_hours"]
    list_editable = ["response_hours"]
    readonly_fields = ["service_type"]
    ordering = ["service_type"]

    # One row per service type, seeded by migration 0002: changed, never added or removed (a
    # removed row would fall back to protocol.constants.DEFAULT_RESPONSE_HOURS anyway).
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
