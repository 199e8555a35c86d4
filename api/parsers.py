"""Request bodies: JSON only."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ApiJSONParser(JSONParser):
    """DRF's JSON parser, where a body nested too deep for Python's parser (``[[[[...``) is a
    400 like any malformed JSON instead of a RecursionError and a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON mal formado: anidado en demasiados niveles.") from exc
