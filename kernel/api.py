from rest_framework.views import APIView


class ConfidentialApiView(APIView):
    """Base of every API view: responses may carry victim data, so nothing stores them."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store, private"
        return response
