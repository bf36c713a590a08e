#!/usr/bin/env python3
"""The cluster behind a real load balancer (haproxy, started here in the foreground, by PID).

A: `balance roundrobin` over 3 delta-mode nodes: every request of one client lands on another node, and every
   one is answered 200/204 with the client's own, up-to-date session.
B: cookie-sticky balancing over 4 backup-mode nodes (sync): the client's node is killed with SIGKILL; haproxy
   redispatches, and the client is still logged in with its attributes on another node."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Client, Cluster, SkipScenario, check, free_ports, main, say  # noqa: E402

DEFAULTS = """global
    maxconn 512
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 10s
    timeout server 10s
"""


class HAProxy:
    """haproxy -db with a generated config; stopped by its PID."""

    def __init__(self, backend):
        self.port = free_ports(1)[0]
        self.directory = tempfile.mkdtemp(prefix="haproxy-")
        self.path = os.path.join(self.directory, "haproxy.cfg")
        with open(self.path, "w") as f:
            f.write(DEFAULTS + "\nfrontend fe\n    bind 127.0.0.1:%d\n    default_backend nodes\n\n" % self.port)
            f.write("backend nodes\n" + backend)
        checked = subprocess.run(["haproxy", "-c", "-f", self.path], capture_output=True, text=True)
        check(checked.returncode == 0, "haproxy refused its config: %s" % (checked.stdout + checked.stderr))
        self.log = open(os.path.join(self.directory, "haproxy.log"), "w")
        self.process = subprocess.Popen(["haproxy", "-f", self.path, "-db"], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.time() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                check(self.process.poll() is None and time.time() < deadline, "haproxy did not start")
                time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % self.port

    def log_lines(self):
        self.log.flush()
        with open(os.path.join(self.directory, "haproxy.log")) as f:
            return f.read().splitlines()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def served_by(headers):
    return next((v for k, v in headers.items() if k.lower() == "x-served-by"), None)


def part_a():
    say("== A: balance roundrobin, 3 nodes, delta/async")
    with Cluster(3, mode="delta") as cluster:
        cluster.start_all()
        servers = "".join("    server %s %s\n" % (n, cluster.http[n]) for n in cluster.names)
        with HAProxy("    balance roundrobin\n" + servers) as proxy:
            client = Client()
            session = client.login(proxy.url, "alice")
            written, served, failures = {}, {}, []
            began = time.time()
            count = 0
            for i in range(1000):
                if time.time() - began > 60:
                    break
                count += 1
                if i % 2 == 0:
                    name, value = "k%d" % (i % 7), "v%d" % i
                    status, body, headers = client.request("PUT", proxy.url + "/session/attributes/" + name,
                                                           body=value)
                    if status == 204:
                        written[name] = value
                    else:
                        failures.append("PUT %s: %d %s" % (name, status, body.strip()))
                else:
                    status, body, headers = client.request("GET", proxy.url + "/session")
                    if status != 200:
                        failures.append("GET: %d %s" % (status, body.strip()))
                    else:
                        answer = json.loads(body)
                        if answer["id"] != session or answer["user"] != "alice":
                            failures.append("GET: someone else's session %s" % answer)
                        elif any(answer["attributes"].get(k) != v for k, v in written.items()):
                            failures.append("GET via %s: stale %s, wrote %s" %
                                            (answer["node"], answer["attributes"], written))
                node = served_by(headers)
                served[node] = served.get(node, 0) + 1
            elapsed = time.time() - began
            client.close()
            say("%d requests through haproxy in %.2fs (%.0f requests/s); served by %s" %
                (count, elapsed, count / elapsed, ", ".join("%s=%d" % kv for kv in sorted(served.items()))))
            say("failures: %d" % len(failures))
            for f in failures[:5]:
                say("  " + f)
            check(count == 1000, "only %d requests in 60s" % count)
            check(not failures, "%d requests not answered 200/204 with the client's session" % len(failures))
            check(sorted(served) == sorted(cluster.names), "not every node served: %s" % served)


def part_b():
    say("== B: cookie-sticky (SERVERID), 4 nodes, backup/sync; the client's node is killed")
    with Cluster(4, mode="backup", ack="sync") as cluster:
        cluster.start_all()
        backend = ("    balance roundrobin\n    cookie SERVERID insert indirect nocache\n"
                   "    option httpchk GET /healthz\n    option redispatch\n    retries 3\n")
        backend += "".join("    server %s %s cookie %s check inter 200 fall 2 rise 2\n" % (n, cluster.http[n], n)
                           for n in cluster.names)
        with HAProxy(backend) as proxy:
            client = Client()
            client.login(proxy.url, "bob")
            check("SERVERID" in client.cookies, "haproxy set no SERVERID cookie: %s" % client.cookies)
            sticky = client.cookies["SERVERID"]
            nodes = set()
            for i in range(20):
                status, _, headers = client.request("PUT", proxy.url + "/session/attributes/item%d" % i, body=str(i))
                check(status == 204, "PUT before the kill answered %d" % status)
                nodes.add(served_by(headers))
                status, _, headers = client.request("GET", proxy.url + "/session")
                check(status == 200, "GET before the kill answered %d" % status)
                nodes.add(served_by(headers))
            say("before the kill: 40 requests, all served by %s (SERVERID=%s)" % (sorted(nodes), sticky))
            check(nodes == {sticky}, "a sticky client was served by %s" % sorted(nodes))

            killed = time.time()
            cluster.kill(sticky)
            attempts, errors, answer = 0, [], None
            while time.time() - killed < 5 and attempts < 500:
                attempts += 1
                try:
                    status, body, headers = client.request("GET", proxy.url + "/session")
                except OSError as error:
                    errors.append(repr(error))
                    time.sleep(0.02)
                    continue
                if status == 200:
                    answer = (body, served_by(headers))
                    break
                errors.append("%d %s" % (status, body.strip()[:60]))
                time.sleep(0.02)
            back = time.time() - killed
            say("after kill -9 of %s: served again after %.3fs (%d attempts; failed: %s)" %
                (sticky, back, attempts, errors[:5]))
            # Timers Tq/Tw/Tc/Tr/Tt: a retry after a refused connect waits haproxy's turn-around timer
            # (min(timeout connect, 1s)) in Tw; the "+N" after the connection counts is the retries (redispatched).
            lines, waited = [], time.time()
            while not lines and time.time() - waited < 1:
                time.sleep(0.05)
                lines = [line for line in proxy.log_lines() if "GET /session" in line and "nodes/" + sticky not in line]
            say("haproxy log of that request: %s" % (lines[0].split("] ", 1)[-1] if lines else "(not logged)"))
            check(answer is not None, "the client was not served within 5s of the kill: %s" % errors[:5])
            session = json.loads(answer[0])
            check(answer[1] != sticky and session["user"] == "bob", "served by %s as %s" % (answer[1], session))
            expected = {"item%d" % i: str(i) for i in range(20)}
            check(session["attributes"] == expected, "attributes after the failover: %s" % session["attributes"])
            check(back <= 2.5, "haproxy took %.2fs (> ~2s) to serve the client again" % back)

            after, failures = set(), []
            for i in range(50):
                status, _, headers = client.request("PUT", proxy.url + "/session/attributes/after", body=str(i))
                after.add(served_by(headers))
                if status != 204:
                    failures.append("PUT %d" % status)
                status, body, headers = client.request("GET", proxy.url + "/session")
                after.add(served_by(headers))
                if status != 200 or json.loads(body)["attributes"].get("after") != str(i):
                    failures.append("GET %d %s" % (status, body.strip()[:80]))
            client.close()
            say("after the failover: 100 requests served by %s (SERVERID=%s), failures %d %s" %
                (sorted(after), client.cookies.get("SERVERID"), len(failures), failures[:3]))
            check(not failures, "requests failed after the failover: %s" % failures[:3])
            check(len(after) == 1 and sticky not in after, "after the failover served by %s" % sorted(after))


def scenario():
    if shutil.which("haproxy") is None:
        raise SkipScenario("haproxy not installed")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the nodes and haproxy are stopped if we are
    part_a()
    part_b()


if __name__ == "__main__":
    main(scenario)
