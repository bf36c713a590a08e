#!/usr/bin/env python3
"""Real session stacks nobody here wrote, unchanged, on the Redis protocol: a Flask app with Flask-Session's Redis
backend, then a Django app with django-redis as its session cache. Three app processes, each pointed at its own
node's Redis port (3 nodes, delta/sync), behind haproxy round robin.

A cookie-keeping client logs in, writes, reads through every app process, logs out (then every app says 401);
then, under a write load, one node and its app are killed with SIGKILL: with `sync`, no read says "logged out" and
every acknowledged write is there at the end.

Needs the PyPI packages in a virtual environment (`.ci/run` makes `.build/venv`; or set SESSIONCLUSTER_PYTHON)
and haproxy; else SKIP."""
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import ROOT, Client, Cluster, SkipScenario, check, free_ports, main, say  # noqa: E402

HAProxy = importlib.import_module("06-haproxy").HAProxy
PYTHON = os.environ.get("SESSIONCLUSTER_PYTHON", os.path.join(ROOT, ".build", "venv", "bin", "python"))
APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")


def start_apps(cluster, framework):
    """One app process per node, on its node's Redis port; returns {node: (process, url)}."""
    apps = {}
    ports = free_ports(len(cluster.names))
    for name, port in zip(cluster.names, ports):
        log = open(cluster.path + ".%s-app.log" % name, "w")
        process = subprocess.Popen([PYTHON, os.path.join(APPS, framework + "_app.py"), str(port),
                                    str(cluster.redis[name][1]), name], stdout=log, stderr=subprocess.STDOUT)
        apps[name] = (process, "http://127.0.0.1:%d" % port)
    deadline = time.time() + 30
    for name, (process, url) in apps.items():
        while True:
            try:
                if Client().request("GET", url + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            check(process.poll() is None, "%s app of %s exited (see %s.%s-app.log)" % (framework, name, cluster.path,
                                                                                    name))
            check(time.time() < deadline, "%s app of %s did not start" % (framework, name))
            time.sleep(0.1)
    return apps


def stop_apps(apps):
    for process, _ in apps.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def request(client, method, url, **kwargs):
    status, body, _ = client.request(method, url, **kwargs)
    return status, (json.loads(body) if body.startswith("{") else body)


def run(framework):
    with Cluster(3, mode="delta", ack="sync", redis=True) as cluster:
        cluster.start_all()
        apps = start_apps(cluster, framework)
        try:
            backend = "    balance roundrobin\n    option httpchk GET /healthz\n    option redispatch\n    retries 3\n"
            backend += "".join("    server %s %s check inter 200 fall 1 rise 2\n" % (n, apps[n][1][7:])
                               for n in cluster.names)
            with HAProxy(backend) as proxy:
                client = Client()
                status, body = request(client, "POST", proxy.url + "/login", form={"user": "alice"})
                check(status == 200 and body["user"] == "alice", "login: %s %s" % (status, body))
                for index in range(5):
                    status, _ = request(client, "PUT", proxy.url + "/attributes/a%d" % index, body="v%d" % index)
                    check(status == 200, "write a%d: %s" % (index, status))
                served = set()
                for _ in range(6):
                    status, body = request(client, "GET", proxy.url + "/session")
                    check(status == 200 and body["user"] == "alice", "read: %s %s" % (status, body))
                    check(body["attributes"] == {"a%d" % i: "v%d" % i for i in range(5)},
                          "every write is read back on app %s: %s" % (body["app"], body["attributes"]))
                    served.add(body["app"])
                check(served == set(cluster.names), "reads went through every app: %s" % sorted(served))
                cookies = dict(client.cookies)
                status, _ = request(client, "POST", proxy.url + "/logout")
                check(status == 200, "logout: %s" % status)
                for name in cluster.names:
                    # The old cookie, straight to each app: logged out everywhere.
                    status, _ = request(Client(cookies), "GET", apps[name][1] + "/session")
                    check(status == 401, "%s app still serves the logged-out session: %s" % (name, status))
                say("%s: login, 5 writes, reads through %d apps, logout seen by every app" % (framework, len(served)))

                # Under load, a node and its app die: nobody is logged out, no acknowledged write is lost.
                client = Client()
                check(request(client, "POST", proxy.url + "/login", form={"user": "bob"})[0] == 200, "login bob")
                acknowledged, failed, reads, deadline = {}, 0, 0, time.time() + 60
                killed_at = None
                for index in range(120):
                    check(time.time() < deadline, "the load did not finish in 60 s")
                    if index == 30:
                        cluster.kill("n1")
                        apps["n1"][0].kill()
                        apps["n1"][0].wait(10)
                        killed_at = index
                    try:
                        status, _ = request(client, "PUT", proxy.url + "/attributes/k%d" % index, body=str(index))
                    except OSError:
                        status = None
                    if status == 200:
                        acknowledged["k%d" % index] = str(index)
                    else:
                        failed += 1
                    try:
                        status, body = request(client, "GET", proxy.url + "/session")
                    except OSError:
                        continue
                    if status in (502, 503):
                        continue  # the balancer had no app for it: not an answer from the session store
                    check(status == 200, "read %d (killed at %s) logged the user out: %s %s"
                          % (index, killed_at, status, body))
                    reads += 1
                status, body = request(client, "GET", proxy.url + "/session")
                check(status == 200, "final read: %s" % status)
                lost = [k for k, v in acknowledged.items() if body["attributes"].get(k) != v]
                check(not lost, "acknowledged writes lost: %s" % lost)
                say("%s: 120 writes under load, n1 and its app killed after 30: %d acknowledged, %d failed "
                    "(not acknowledged), %d reads all logged in, 0 acknowledged writes lost"
                    % (framework, len(acknowledged), failed, reads))
        finally:
            stop_apps(apps)


def scenario():
    if not os.path.exists(PYTHON):
        raise SkipScenario("no Python environment with the session libraries at %s (.ci/run makes it)" % PYTHON)
    if not shutil.which("haproxy"):
        raise SkipScenario("haproxy not installed")
    missing = subprocess.run([PYTHON, "-c", "import redis, flask, flask_session, django, django_redis"],
                             capture_output=True, text=True)
    if missing.returncode != 0:
        raise SkipScenario("session libraries missing from %s: %s" % (PYTHON, missing.stderr.strip()[-200:]))
    for framework in ("flask", "django"):
        run(framework)


if __name__ == "__main__":
    main(scenario)
