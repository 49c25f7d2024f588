from django.http import JsonResponse
from django.views.decorators.http import require_safe


@require_safe
def health(request):
    """Liveness probe: answers 200 {"status": "ok"} while the site can handle requests."""
    return JsonResponse({"status": "ok"})


@require_safe
def index(request):
    """Names the site and says where its admin is."""
    return JsonResponse({"name": "{{ cookiecutter.project_name }}", "admin": "/admin/"})
