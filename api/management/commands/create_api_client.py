"""python manage.py create_api_client --institution PDI --name "Sistema BRAIN" --scopes cases:read cases:write"""

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

    def handle(self, *args, institution, name, scopes, sources, **options):
        found = Institution.objects.filter(short_name__iexact=institution, is_active=True).first()
        if found is None:
            raise CommandError(f"No existe una institución activa con la sigla {institution!r}.")
        try:
            new = api_client_create(institution=found, name=name, scopes=scopes, sources=sources)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"client_id={new.client.client_id}")
        self.stdout.write(f"client_secret={new.client_secret}")
        self.stdout.write("Guarde el secreto ahora: no se vuelve a mostrar (solo se almacena su hash).")
