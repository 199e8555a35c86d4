from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API para sistemas institucionales"

    def ready(self) -> None:
        from api import schema  # noqa: F401  registers the OpenAPI extension of our authentication
