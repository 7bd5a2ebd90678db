"""URLs of bin/bench (config/settings_bench.py): the product's URLs plus a hello-world view.

The hello-world view goes through the same middleware as every page but does no work of its
own: a page's requests per second divided by hello-world's, measured on the same machine at
the same time, says how much of the server's capacity the page itself takes.
"""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

HELLO_PATH = "__bench__/hello/"


@csrf_exempt  # the POST baseline of the intake API, which takes no CSRF token either
@require_http_methods(["GET", "POST"])
def hello(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path(HELLO_PATH, hello, name="bench-hello"),
    path("", include("config.urls")),
]
