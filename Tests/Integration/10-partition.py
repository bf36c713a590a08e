#!/usr/bin/env python3
"""A network partition 1 | 2 between real nodes in network namespaces, then healing.

Layout (all made here, all removed at the end): a bridge in its own namespace scbr-<pid>; node namespaces
scn1..3-<pid> at 198.51.100.11-13/24 (TEST-NET-2), each with a veth to the bridge; a client namespace sccl-<pid>
at 198.51.100.100 on the same bridge. Nothing in the host namespace ever talks to 198.51.100.x: nodes run under
`ip netns exec`, and HTTP requests are made by small agents running inside the client namespace (and, while n1
is cut off, inside n1's own namespace).

Delta mode, async, unicast beacons to seeds (no multicast). The partition: n1's veth goes down inside the bridge
namespace. Both sides see the other dead; a session created before the split is written on both sides (one
attribute each, and one attribute written by both: the later writer wins); another session is logged out on
n1's side while n3's side writes to it. After healing: every node holds the merged session, and the logged-out
session answers 401 everywhere, for its old cookies and for the cookies of the concurrent write."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import BINARY, SkipScenario, check, main, say  # noqa: E402

PID = os.getpid()
NODES = ["n1", "n2", "n3"]
BRIDGE_NS = "scbr-%d" % PID
NODE_NS = {n: "scn%d-%d" % (i + 1, PID) for i, n in enumerate(NODES)}
CLIENT_NS = "sccl-%d" % PID
ADDRESS = {n: "198.51.100.1%d" % (i + 1) for i, n in enumerate(NODES)}
CLIENT_ADDRESS = "198.51.100.100"
VETH = {"n1": "v1", "n2": "v2", "n3": "v3", "client": "vc"}  # the bridge-side ends, inside BRIDGE_NS

# Runs inside a namespace: one JSON request per input line, one JSON answer per output line (fresh connection
# each time, bounded by a timeout), cookies in and out like a browser's jar.
AGENT = r'''
import http.client, json, sys, time
for line in sys.stdin:
    request = json.loads(line)
    cookies = dict(request.get("cookies") or {})
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join("%s=%s" % kv for kv in sorted(cookies.items()))
    body = request.get("body")
    if request.get("form") is not None:
        body = "&".join("%s=%s" % kv for kv in request["form"].items())
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    began = time.time()
    try:
        connection = http.client.HTTPConnection(request["host"], timeout=request.get("timeout", 3))
        connection.request(request["method"], request["path"], body=body, headers=headers)
        response = connection.getresponse()
        data = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, cookie = value.split(";", 1)[0].partition("=")
                if cookie == "" or "Max-Age=0" in value:
                    cookies.pop(key, None)
                else:
                    cookies[key] = cookie
        answer = {"status": response.status, "body": data, "served_by": response.getheader("X-Served-By"),
                  "cookies": cookies}
        connection.close()
    except Exception as error:
        answer = {"error": repr(error)}
    answer["elapsed"] = time.time() - began
    print(json.dumps(answer), flush=True)
'''


def ip(*args, check_rc=True):
    result = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if check_rc and result.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), (result.stderr or result.stdout).strip()))
    return result


class Agent:
    """An HTTP client process inside a namespace."""

    def __init__(self, namespace):
        self.process = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-c", AGENT],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def request(self, node, method, path, cookies=None, body=None, form=None, timeout=3):
        line = json.dumps({"host": "%s:48000" % ADDRESS[node], "method": method, "path": path, "cookies": cookies,
                           "body": body, "form": form, "timeout": timeout})
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("agent died")
        return json.loads(answer)

    def members(self, node):
        answer = self.request(node, "GET", "/cluster/members", timeout=2)
        if answer.get("status") != 200:
            return None
        return {m["name"]: m["state"] for m in json.loads(answer["body"])["members"]}

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Lab:
    def __init__(self):
        self.namespaces, self.nodes, self.agents, self.logs = [], {}, [], {}
        self.directory = tempfile.mkdtemp(prefix="partition-")
        self.config = os.path.join(self.directory, "cluster.json")

    def build(self):
        try:
            ip("netns", "add", BRIDGE_NS)
        except (RuntimeError, OSError) as error:
            raise SkipScenario("cannot create a network namespace: %s" % error)
        self.namespaces.append(BRIDGE_NS)
        ip("-n", BRIDGE_NS, "link", "set", "lo", "up")
        ip("-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge")
        ip("-n", BRIDGE_NS, "link", "set", "br0", "up")
        ends = [(NODE_NS[n], ADDRESS[n], VETH[n]) for n in NODES] + [(CLIENT_NS, CLIENT_ADDRESS, VETH["client"])]
        for namespace, address, veth in ends:
            ip("netns", "add", namespace)
            self.namespaces.append(namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", BRIDGE_NS, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            ip("-n", BRIDGE_NS, "link", "set", veth, "master", "br0")
            ip("-n", BRIDGE_NS, "link", "set", veth, "up")
            ip("-n", namespace, "addr", "add", address + "/24", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")

    def write_config(self):
        config = {
            "cluster": "partition-%d" % PID,
            "secret": "integration test secret, 32+ characters long",
            "replication": {"mode": "delta", "ack": "async"},
            "membership": {"multicast": None, "seeds": ["%s:47000" % ADDRESS[n] for n in NODES],
                           "heartbeatMillis": 100, "suspectAfterMillis": 400, "deadAfterMillis": 800},
            "nodes": [{"name": n, "replication": "%s:47000" % ADDRESS[n], "http": "%s:48000" % ADDRESS[n]}
                      for n in NODES],
        }
        if int(os.environ.get("SCENARIO_LOOPS", "0") or 0) > 0:  # as cluster.py does
            config["loops"] = int(os.environ["SCENARIO_LOOPS"])
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)

    def start(self, name):
        log = open(os.path.join(self.directory, name + ".log"), "a")
        self.logs[name] = log
        # `ip netns exec` execs the binary: the recorded PID is the node's.
        self.nodes[name] = subprocess.Popen(["ip", "netns", "exec", NODE_NS[name], BINARY, "run", "--config",
                                             self.config, "--node", name], stdout=log, stderr=subprocess.STDOUT)

    def agent(self, namespace):
        agent = Agent(namespace)
        self.agents.append(agent)
        return agent

    def teardown(self, keep_logs):
        for agent in self.agents:
            agent.close()
        for name, process in self.nodes.items():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for log in self.logs.values():
            log.close()
        for namespace in reversed(self.namespaces):
            ip("netns", "del", namespace, check_rc=False)
        if keep_logs:
            say("logs kept: %s/*.log" % self.directory)
        else:
            shutil.rmtree(self.directory, ignore_errors=True)


def wait_until(predicate, timeout, interval=0.05):
    began = time.time()
    while time.time() - began < timeout:
        value = predicate()
        if value:
            return time.time() - began
        time.sleep(interval)
    return None


def scenario():
    if os.geteuid() != 0:
        raise SkipScenario("needs root for network namespaces")
    if shutil.which("ip") is None:
        raise SkipScenario("ip (iproute2) not installed")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally block runs if we are stopped
    lab = Lab()
    failed = True
    try:
        lab.build()
        lab.write_config()
        for name in NODES:
            lab.start(name)
        client = lab.agent(CLIENT_NS)     # reaches every node over the bridge (n2, n3 only while n1 is cut off)
        inside_n1 = lab.agent(NODE_NS["n1"])  # n1's own namespace: reaches n1 while it is cut off

        def alive_views(agent, names):
            views = {n: agent.members(n) for n in names}
            return views if all(v is not None for v in views.values()) else None

        def formed():
            views = alive_views(client, NODES)
            return views and all(all(views[n].get(m) == "alive" for m in NODES) for n in NODES)
        took = wait_until(formed, 15)
        check(took is not None, "the cluster did not form over seeds within 15s: %s" % alive_views(client, NODES))
        say("cluster formed over unicast seeds in %.2fs" % took)

        def ok(answer, status):
            check(answer.get("status") == status, "expected %d, got %s" % (status, answer))
            return answer["cookies"]

        # Before the split: S1 (to be written on both sides) and S2 (to be logged out on one side).
        s1 = ok(client.request("n2", "POST", "/login", form={"user": "carol"}), 200)
        s1 = ok(client.request("n2", "PUT", "/session/attributes/base", cookies=s1, body="before"), 204)
        s2 = ok(client.request("n3", "POST", "/login", form={"user": "dave"}), 200)
        s2 = ok(client.request("n3", "PUT", "/session/attributes/cart", cookies=s2, body="3 items"), 204)

        def replicated():
            answers = [client.request(n, "GET", "/cluster/stats") for n in NODES]
            return all(a.get("status") == 200 and json.loads(a["body"])["sessions"] == 2 for a in answers)
        check(wait_until(replicated, 5) is not None, "the two sessions did not reach every node")

        # The split.
        split = time.time()
        ip("-n", BRIDGE_NS, "link", "set", VETH["n1"], "down")
        seen = {}

        def detected():
            if "n1" not in seen:
                view = inside_n1.members("n1")
                if view and view.get("n2") == "dead" and view.get("n3") == "dead":
                    seen["n1"] = time.time() - split
            for n in ("n2", "n3"):
                if n not in seen:
                    view = client.members(n)
                    if view and view.get("n1") == "dead":
                        seen[n] = time.time() - split
            return len(seen) == 3
        check(wait_until(detected, 15) is not None, "the partition was not detected within 15s: %s" % seen)
        say("partition detected (other side dead) after: %s" %
            ", ".join("%s %.2fs" % (n, seen[n]) for n in NODES))

        # Writes on both sides. Side A is n1 (reached from inside its namespace), side B is n2/n3.
        a1 = ok(inside_n1.request("n1", "PUT", "/session/attributes/left", cookies=s1, body="from-n1"), 204)
        a1 = ok(inside_n1.request("n1", "PUT", "/session/attributes/shared", cookies=a1, body="from-n1"), 204)
        time.sleep(0.2)  # so side B's write of "shared" is the later one
        b1 = ok(client.request("n2", "PUT", "/session/attributes/right", cookies=s1, body="from-n2"), 204)
        b1 = ok(client.request("n2", "PUT", "/session/attributes/shared", cookies=b1, body="from-n2"), 204)
        answer = client.request("n3", "GET", "/session", cookies=b1)
        check(answer.get("status") == 200, "side B's read of its own write on n3: %s" % answer)
        # Side B cannot cover side A's token: it must not serve stale state (503), never 200.
        stale = client.request("n3", "GET", "/session", cookies=a1, timeout=10)
        say("n3 asked with n1's token during the partition: %s after %.2fs" %
            (stale.get("status", stale.get("error")), stale["elapsed"]))
        check(stale.get("status") == 503, "a node behind the partition served n1's token: %s" % stale)

        ok(inside_n1.request("n1", "POST", "/logout", cookies=s2), 204)
        check(inside_n1.request("n1", "GET", "/session", cookies=s2).get("status") == 401,
              "S2 still valid on n1 right after its logout")
        b2 = ok(client.request("n3", "PUT", "/session/attributes/cart", cookies=s2, body="4 items"), 204)
        say("during the partition: S1 written on both sides, S2 logged out on n1 and written on n3")

        # Heal.
        healed = time.time()
        ip("-n", BRIDGE_NS, "link", "set", VETH["n1"], "up")
        took = wait_until(formed, 20)
        check(took is not None, "membership did not re-form within 20s of healing: %s" % alive_views(client, NODES))
        say("membership re-formed %.2fs after healing" % took)

        expected = {"base": "before", "left": "from-n1", "right": "from-n2", "shared": "from-n2"}
        id_only = {"s1": {"SESSIONID": s1["SESSIONID"]}, "s2": {"SESSIONID": s2["SESSIONID"]}}
        last = {}

        def converged():
            # Cookies without a version token: each node answers from its own copy, without pulling.
            for n in NODES:
                answer = client.request(n, "GET", "/session", cookies=id_only["s1"])
                last[n + " S1"] = answer.get("status"), answer.get("body", answer.get("error"))
                if answer.get("status") != 200 or json.loads(answer["body"])["attributes"] != expected:
                    return False
                answer = client.request(n, "GET", "/session", cookies=id_only["s2"])
                last[n + " S2"] = answer.get("status"), answer.get("body", answer.get("error"))
                if answer.get("status") != 401:
                    return False
            return True
        took = wait_until(converged, 20, 0.1)
        check(took is not None, "copies did not converge within 20s of re-forming: %s" % last)
        say("every copy converged %.2fs after membership re-formed (%.2fs after healing)" %
            (took, time.time() - healed))

        time.sleep(3.0)  # a few more seconds of reconciliation: nothing may change back
        versions = {}
        for n in NODES:
            for label, cookies in (("n1's jar", a1), ("n2's jar", b1), ("no token", id_only["s1"])):
                answer = client.request(n, "GET", "/session", cookies=cookies)
                check(answer.get("status") == 200, "S1 via %s with %s: %s" % (n, label, answer))
                body = json.loads(answer["body"])
                check(body["attributes"] == expected and body["user"] == "carol",
                      "S1 via %s with %s: %s, expected %s" % (n, label, body, expected))
                versions.setdefault(n, set()).add(body["version"])
            for label, cookies in (("old cookies", s2), ("n3's write", b2), ("no token", id_only["s2"])):
                answer = client.request(n, "GET", "/session", cookies=cookies)
                check(answer.get("status") == 401, "logged-out S2 via %s with %s came back: %s" % (n, label, answer))
            stats = json.loads(client.request(n, "GET", "/cluster/stats")["body"])
            check(stats["sessions"] == 1, "%s holds %d valid sessions, expected 1 (S1)" % (n, stats["sessions"]))
        check(len(set().union(*versions.values())) == 1, "copies differ in version: %s" % versions)
        say("3s later: S1 = %s on every node (one version %s); S2 401 on every node for every cookie" %
            (expected, next(iter(versions["n1"]))))
        failed = False
    finally:
        lab.teardown(keep_logs=failed)


if __name__ == "__main__":
    main(scenario)
