"""Support for the integration scenarios: real `session-node` processes on loopback.

Every scenario generates its own cluster file (free ports, its own multicast group and port), starts nodes as
separate processes, records their PIDs and stops only those. Standard library only.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("SESSION_NODE", os.path.join(ROOT, ".build", "release", "session-node"))


def say(line):
    print(line, flush=True)


def free_ports(count):
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


class Cluster:
    """A cluster file and the node processes started from it (by PID)."""

    def __init__(self, nodes, mode="delta", ack="async", multicast=True, heartbeat=100, extra_nodes=0,
                 redis=False, redis_password=None, persistence=None, copies=None):
        total = nodes + extra_nodes
        ports = free_ports(3 * total + 1)
        self.names = ["n%d" % (i + 1) for i in range(total)]
        self.replication = {n: "127.0.0.1:%d" % ports[i] for i, n in enumerate(self.names)}
        self.http = {n: "127.0.0.1:%d" % ports[total + i] for i, n in enumerate(self.names)}
        # The Redis-protocol endpoint of each node (when `redis`): host and port.
        self.redis = {n: ("127.0.0.1", ports[2 * total + i]) for i, n in enumerate(self.names)} if redis else {}
        salt = os.getpid() % 250
        membership = {"heartbeatMillis": heartbeat, "suspectAfterMillis": heartbeat * 4, "deadAfterMillis": heartbeat * 8}
        if multicast:
            membership["multicast"] = {"group": "239.255.%d.%d" % (150 + random.randrange(80), salt + 1),
                                       "port": ports[-1], "interface": "127.0.0.1"}
        else:
            membership["multicast"] = None
            membership["seeds"] = [self.replication[n] for n in self.names[:2]]
        config = {
            "cluster": "it-%d" % os.getpid(),
            "secret": "integration test secret, 32+ characters long",
            "replication": dict({"mode": mode, "ack": ack}, **({"copies": copies} if copies else {})),
            "membership": membership,
            "nodes": [dict({"name": n, "replication": self.replication[n], "http": self.http[n]},
                           **({"redis": "%s:%d" % self.redis[n]} if redis else {})) for n in self.names],
        }
        if redis_password is not None:
            config["redis"] = {"password": redis_password}
        if persistence is not None:
            config["persistence"] = persistence
        # SCENARIO_LOOPS=N runs every node with N event loops (CI runs the scenarios with 1 and with 2).
        loops = int(os.environ.get("SCENARIO_LOOPS", "0") or 0)
        if loops > 0:
            config["loops"] = loops
        # SCENARIO_MEMBERSHIP=swim (or beacon) runs every node with that `membership.protocol`.
        protocol = os.environ.get("SCENARIO_MEMBERSHIP", "")
        if protocol:
            membership["protocol"] = protocol
        fd, self.path = tempfile.mkstemp(prefix="cluster-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(config, f, indent=2)
        self.processes = {}
        self.logs = {}
        self.initial = self.names[:nodes]

    def start(self, name, env=None):
        log = open(self.path + "." + name + ".log", "a")
        environment = dict(os.environ)
        # SESSIONCLUSTER_PLANTED_FAULT in the runner's environment reaches every node (to prove a scenario fails).
        environment.update(env or {})
        process = subprocess.Popen([BINARY, "run", "--config", self.path, "--node", name],
                                   stdout=log, stderr=subprocess.STDOUT, env=environment)
        self.processes[name] = process
        self.logs[name] = log
        return process.pid

    def start_all(self, env=None):
        for name in self.initial:
            self.start(name, env)
        self.wait_formed(self.initial)

    def url(self, name):
        return "http://" + self.http[name]

    def running(self):
        return [n for n, p in self.processes.items() if p.poll() is None]

    def kill(self, name, sig=signal.SIGKILL):
        process = self.processes[name]
        process.send_signal(sig)
        if sig == signal.SIGKILL:
            process.wait(10)

    def stop(self, name, timeout=10):
        """Graceful stop (SIGTERM); returns the exit status."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -9

    def stop_all(self):
        for name in list(self.processes):
            if self.processes[name].poll() is None:
                self.stop(name)
        for log in self.logs.values():
            log.close()

    def members(self, name):
        status, body, _ = Client().request("GET", self.url(name) + "/cluster/members")
        return json.loads(body)["members"] if status == 200 else []

    def alive(self, name):
        return sorted(m["name"] for m in self.members(name) if m["state"] == "alive")

    def wait_formed(self, names, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if all(self.alive(n) == sorted(names) for n in names):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("cluster of %s did not form in %ss" % (names, timeout))

    def stats(self, name):
        status, body, _ = Client().request("GET", self.url(name) + "/cluster/stats")
        return json.loads(body)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        if exc[0] is None:
            for name in self.names:
                try:
                    os.remove(self.path + "." + name + ".log")
                except OSError:
                    pass
            os.remove(self.path)
        else:
            say("logs kept: %s.*.log" % self.path)
        return False


class Client:
    """A browser-like client: one cookie jar, keep-alive connections per node, no retries."""

    def __init__(self, cookies=None):
        self.cookies = dict(cookies or {})
        self.connections = {}

    def request(self, method, url, body=None, form=None):
        host = url.split("//", 1)[1].split("/", 1)[0]
        path = "/" + url.split("//", 1)[1].split("/", 1)[1] if "/" in url.split("//", 1)[1] else "/"
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join("%s=%s" % kv for kv in sorted(self.cookies.items()))
        if form is not None:
            body = "&".join("%s=%s" % kv for kv in form.items())
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (0, 1):
            connection = self.connections.get(host)
            if connection is None:
                connection = http.client.HTTPConnection(host, timeout=10)
                self.connections[host] = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read().decode()
                break
            except (http.client.HTTPException, OSError) as error:
                # Never keep a connection in an unknown state (e.g. after a timeout) for the next request.
                connection.close()
                self.connections.pop(host, None)
                # A kept-alive connection the server closed: reconnect once (not a retry of the request's effect).
                if attempt == 1 or not isinstance(error, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                name, _, cookie = pair.partition("=")
                if cookie == "" or "Max-Age=0" in value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = cookie
        return response.status, data, dict(response.getheaders())

    def login(self, url, user):
        status, body, _ = self.request("POST", url + "/login", form={"user": user})
        assert status == 200, "login answered %d %s" % (status, body)
        return json.loads(body)["session"]

    def put(self, url, name, value):
        return self.request("PUT", url + "/session/attributes/" + name, body=value)[0]

    def session(self, url):
        status, body, _ = self.request("GET", url + "/session")
        return status, (json.loads(body) if status == 200 else None)

    def close(self):
        for connection in self.connections.values():
            connection.close()


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main(scenario):
    """Runs `scenario()`; exit 0 on success, 1 on a broken property, 77 for SKIP (with the reason)."""
    try:
        scenario()
    except SkipScenario as skip:
        say("SKIP: %s" % skip)
        sys.exit(77)
    except AssertionError as failure:
        say("FAIL: %s" % failure)
        sys.exit(1)
    say("PASS")


class SkipScenario(Exception):
    pass


class RespError(Exception):
    """An error reply (`-ERR …`), kept as a value: scenarios compare errors like any answer."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __eq__(self, other):
        return isinstance(other, RespError) and other.message == self.message

    def __repr__(self):
        return "RespError(%r)" % self.message


class Resp:
    """A minimal RESP2/RESP3 client on one connection (standard library only), to talk to a node and to a real
    redis-server alike. `call` sends one command and returns its parsed reply; `pipeline` sends many at once."""

    def __init__(self, address, timeout=10):
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(self.encode(*c) for c in commands))
        return [self.read() for _ in commands]

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exact(self, count):
        while len(self.buffer) < count + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count + 2:]
        return data

    def read(self):
        """One reply: bytes, int, float, bool, None, list, set (as sorted list), dict (as dict), or RespError."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"="):
            length = int(rest)
            return None if length < 0 else self._exact(length)
        if kind in (b"*", b"~", b">"):
            length = int(rest)
            if length < 0:
                return None
            items = [self.read() for _ in range(length)]
            return sorted(items, key=repr) if kind == b"~" else items
        if kind == b"%":
            return {self._key(self.read()): self.read() for _ in range(int(rest))}
        if kind == b"_":
            return None
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return rest == b"t"
        raise AssertionError("unexpected reply line %r" % line)

    @staticmethod
    def _key(value):
        return tuple(value) if isinstance(value, list) else value


# Framework apps on the embedded node (Tests/Compatibility/, scenario 24 and the compatibility bench).

COMPATIBILITY = os.path.join(ROOT, "Tests", "Compatibility")


def swift_toolchain():
    """The `swift` executable (PATH, else /opt/swift); SkipScenario when there is none."""
    found = shutil.which("swift") or next((p for p in ["/opt/swift/usr/bin/swift"] if os.path.exists(p)), None)
    if found is None:
        raise SkipScenario("no swift toolchain on PATH")
    return found


def build_package(package, product, configuration="debug", resolve_timeout=600, build_timeout=1200):
    """Builds `product` of the package Tests/Compatibility/`package` and returns (executable path, seconds taken).
    The output goes to `.build/scenario-build-CONFIGURATION.log` in the package (its tail printed on failure).
    SkipScenario when its dependencies cannot be resolved (no network, no local copies); AssertionError when it does
    not compile."""
    directory = os.path.join(COMPATIBILITY, package)
    os.makedirs(os.path.join(directory, ".build"), exist_ok=True)
    log_path = os.path.join(directory, ".build", "scenario-build-%s.log" % configuration)
    began = time.time()
    with open(log_path, "w") as log:
        resolved = subprocess.run([swift_toolchain(), "package", "resolve"], cwd=directory, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=resolve_timeout)
    if resolved.returncode != 0:
        with open(log_path) as log:
            errors = [line.strip() for line in log if "error" in line.lower()] or ["(no error line; see the log)"]
        raise SkipScenario("%s: its dependencies cannot be resolved (%s): %s" %
                           (package, log_path, " | ".join(errors[:3])))
    with open(log_path, "a") as log:
        built = subprocess.run([swift_toolchain(), "build", "-c", configuration, "--product", product],
                               cwd=directory, stdout=log, stderr=subprocess.STDOUT, timeout=build_timeout)
    took = time.time() - began
    if built.returncode != 0:
        with open(log_path) as log:
            tail = log.read().splitlines()[-40:]
        say("build log tail (%s):\n  %s" % (log_path, "\n  ".join(tail)))
        check(False, "%s does not build (%.0fs)" % (package, took))
    return os.path.join(directory, ".build", configuration, product), took


class AppCluster(Cluster):
    """A cluster file whose nodes are instances of a framework app (`APP --config FILE --node NAME`, by PID) instead
    of session-node. The app answers `GET /health` with `peers N`, the live peers its node sees."""

    def __init__(self, binary, nodes, mode="delta", ack="async"):
        super().__init__(nodes, mode=mode, ack=ack)
        self.binary = binary

    def start(self, name, env=None):
        log = open(self.path + "." + name + ".log", "a")
        process = subprocess.Popen([self.binary, "--config", self.path, "--node", name], stdout=log,
                                   stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
        self.processes[name] = process
        self.logs[name] = log
        return process.pid

    def wait_formed(self, names, timeout=30):
        """Every instance answers /health and sees the others alive."""
        deadline, client = time.time() + timeout, Client()
        try:
            while time.time() < deadline:
                try:
                    answers = [client.request("GET", self.url(n) + "/health")[1].strip() for n in names]
                    if all(answer == "peers %d" % (len(names) - 1) for answer in answers):
                        return
                except OSError:
                    client.close()
                    client = Client()
                for n in names:
                    check(self.processes[n].poll() is None, "%s exited (%s)" % (n, self.processes[n].returncode))
                time.sleep(0.1)
        finally:
            client.close()
        raise AssertionError("the instances %s did not form one cluster in %ss" % (names, timeout))

    def log_tails(self, lines=8):
        for name in self.processes:
            self.logs[name].flush()
            with open(self.path + "." + name + ".log") as f:
                tail = f.read().splitlines()[-lines:]
            say("  %s log tail:\n    %s" % (name, "\n    ".join(tail)))
