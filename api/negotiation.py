"""Content negotiation for /api/v1/: an unknown ``?format=`` answers 406, not DRF's 404 (here a
404 means "not visible", and a sync client would take the record for gone)."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class ApiContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        renderers = [renderer for renderer in renderers if renderer.format == format]
        if not renderers:
            raise NotAcceptable()
        return renderers
