"""python manage.py create_api_client --institution PDI --name "Sistema BRAIN" --scopes cases:read cases:write

A Sermig system that works the humanitarian residence queue: ``--institution SERMIG --sermig``
(refused for an institution that is not a migration service)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.services import api_client_create
from institutions.models import Institution


class Command(BaseCommand):
    help = "Registra un sistema institucional como cliente de la API y muestra su secreto (una sola vez)."

    def add_arguments(self, parser):
        parser.add_argument("--institution", required=True, help="Sigla de la institución (por ejemplo PDI).")
        parser.add_argument("--name", required=True, help="Nombre del sistema cliente.")
        parser.add_argument("--scopes", nargs="+", required=True, help="cases:read cases:write identity:read ...")
        parser.add_argument(
            "--sources",
            nargs="*",
            default=[],
            help="Sistemas de origen de la institución (pdi-parte, fiscalia-ruc...): solo ella escribe en ellos.",
        )
        parser.add_argument(
            "--sermig",
            action="store_true",
            help=(
                "El cliente trabaja la cola de residencia humanitaria como oficial Sermig (solo para una "
                "institución de tipo servicio de migraciones; con cases:write para tramitar, identity:read para "
                "leer la identidad del permiso)."
            ),
        )

    def handle(self, *args, institution, name, scopes, sources, sermig, **options):
        found = Institution.objects.filter(short_name__iexact=institution, is_active=True).first()
        if found is None:
            raise CommandError(f"No existe una institución activa con la sigla {institution!r}.")
        try:
            new = api_client_create(institution=found, name=name, scopes=scopes, sources=sources, sermig_officer=sermig)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"client_id={new.client.client_id}")
        self.stdout.write(f"client_secret={new.client_secret}")
        self.stdout.write("Guarde el secreto ahora: no se vuelve a mostrar (solo se almacena su hash).")
