from django.urls import path

from stats import views

app_name = "stats"

urlpatterns = [
    path("estadisticas/", views.dashboard_view, name="dashboard"),
    path("estadisticas/recalcular/", views.recalculate_view, name="recalculate"),
    path("estadisticas/solicitudes/<int:statistics_request_id>/", views.request_status_view, name="request_status"),
    path(
        "estadisticas/instantaneas/<int:snapshot_id>/tablas/<slug:table_key>.csv",
        views.table_csv_view,
        name="table_csv",
    ),
    path("estadisticas/instantaneas/<int:snapshot_id>.xlsx", views.snapshot_xlsx_view, name="snapshot_xlsx"),
]
