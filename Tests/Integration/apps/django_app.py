"""A one-file Django app keeping its sessions in the cache backend, with django-redis as the cache, unchanged,
pointed at one node's Redis port. Usage: django_app.py HTTP_PORT REDIS_PORT NAME"""
import json
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

http_port, redis_port, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
settings.configure(
    DEBUG=False,
    SECRET_KEY="integration test only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache",
                        "LOCATION": "redis://127.0.0.1:%d/0" % redis_port}},
)
django.setup()


def answer(body, status=200):
    return HttpResponse(json.dumps(dict(body, app=name)), status=status, content_type="application/json")


def login(request):
    request.session.cycle_key()
    request.session["user"] = request.POST["user"]
    return answer({"user": request.session["user"]})


def put(request, key):
    attributes = request.session.get("attributes", {})
    attributes[key] = request.body.decode()
    request.session["attributes"] = attributes
    return answer({})


def read(request):
    if "user" not in request.session:
        return answer({"user": None}, 401)
    return answer({"user": request.session["user"], "attributes": request.session.get("attributes", {})})


def logout(request):
    request.session.flush()
    return answer({})


def healthz(request):
    return HttpResponse("ok")


urlpatterns = [path("login", login), path("attributes/<str:key>", put), path("session", read),
               path("logout", logout), path("healthz", healthz)]


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


if __name__ == "__main__":
    from django.core.wsgi import get_wsgi_application

    make_server("127.0.0.1", http_port, get_wsgi_application(), ThreadingServer, QuietHandler).serve_forever()
