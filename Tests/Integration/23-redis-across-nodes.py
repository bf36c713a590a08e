#!/usr/bin/env python3
"""Redis clients nobody here wrote, against three nodes: redis-cli, and redis-py with RESP2 and RESP3. A write on one
node is read on the others; DEL and RENAME hold everywhere; concurrent HSETs of different fields on different nodes
both survive; an expiry is replicated; WAIT counts the other holders — in delta/async (where the replication lag is
measured and printed) and in backup/sync (where a write's reply comes after its holders applied it).

Then WAIT when a holder dies: a write made while a peer is killed counts only the live holders, within the timeout.
Needs redis-cli (Debian redis-tools) and redis-py in `.build/venv` (`.ci/run` installs both), else SKIP."""
import os
import shutil
import subprocess
import time

from cluster import ROOT, Cluster, Resp, SkipScenario, check, main, say

PYTHON = os.environ.get("SESSIONCLUSTER_PYTHON", os.path.join(ROOT, ".build", "venv", "bin", "python"))
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "redispy_across_nodes.py")


def cli(address, *args, resp3=False):
    command = ["redis-cli", "-h", address[0], "-p", str(address[1])] + (["-3"] if resp3 else []) + list(args)
    done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    check(done.returncode == 0, "%s: exit %d %s" % (" ".join(command), done.returncode, done.stderr))
    return done.stdout.strip()


def with_redis_cli(cluster, ack):
    a, b, c = (cluster.redis[n] for n in cluster.names)
    check(cli(a, "SET", "cli:k", "from n1") == "OK", "redis-cli SET on n1")
    for address, name in ((b, "n2"), (c, "n3")):
        deadline = time.time() + 5
        while cli(address, "GET", "cli:k") != "from n1":
            check(ack == "async" and time.time() < deadline, "redis-cli GET on %s reads n1's SET" % name)
            time.sleep(0.01)
    # (Not on a terminal, redis-cli prints bare values, one per line.)
    check(cli(b, "HSET", "cli:h", "f", "v", resp3=True) == "1", "redis-cli -3 HSET on n2")
    deadline = time.time() + 5
    while cli(c, "HGETALL", "cli:h", resp3=True) != "f v":  # a RESP3 map: key and value on one line
        check(ack == "async" and time.time() < deadline, "redis-cli -3 HGETALL on n3 (a RESP3 map)")
        time.sleep(0.01)
    deadline = time.time() + 5
    while cli(a, "HGET", "cli:h", "f") != "v":
        check(ack == "async" and time.time() < deadline, "redis-cli HGET on n1")
        time.sleep(0.01)
    check(cli(c, "DEL", "cli:k", "cli:h") == "2", "redis-cli DEL on n3")
    deadline = time.time() + 5
    while cli(a, "EXISTS", "cli:k", "cli:h") != "0":
        check(ack == "async" and time.time() < deadline, "redis-cli EXISTS on n1 after DEL on n3")
        time.sleep(0.01)


def with_redis_py(cluster, mode, ack):
    ports = [str(cluster.redis[n][1]) for n in cluster.names]
    for protocol in ("2", "3"):
        done = subprocess.run([PYTHON, SCRIPT, protocol, mode, ack] + ports, capture_output=True, text=True,
                              timeout=120)
        lines = done.stdout.strip().splitlines()
        check(done.returncode == 0, "redis-py RESP%s, %s/%s: %s %s" % (
            protocol, mode, ack, (lines or ["(no output)"])[-1], done.stderr.strip()[-500:]))
        lag = [line for line in lines if line.startswith("lag:")]
        say("redis-py RESP%s %s/%s: %d properties hold%s" % (
            protocol, mode, ack, sum(line.startswith("ok:") for line in lines),
            ("; replication " + lag[0]) if lag else ""))


def wait_when_a_holder_dies():
    with Cluster(3, mode="delta", ack="async", redis=True) as cluster:
        cluster.start_all()
        n1 = Resp(cluster.redis["n1"])
        n1.call("SET", "w", "1")
        check(n1.call("WAIT", "2", "2000") == 2, "WAIT counts both peers")
        cluster.kill("n3")
        n1.call("SET", "w", "2")
        started = time.time()
        answer = n1.call("WAIT", "2", "3000")
        took = time.time() - started
        check(answer == 1, "WAIT after a peer died counts the live one: %r" % answer)
        check(took < 3.5, "WAIT is bounded by its timeout (%.1f s)" % took)
        say("WAIT 2 3000 with one peer killed: %d in %.2f s" % (answer, took))


def scenario():
    if not shutil.which("redis-cli"):
        raise SkipScenario("redis-cli not installed (Debian package redis-tools)")
    if not os.path.exists(PYTHON):
        raise SkipScenario("no Python environment with redis-py at %s (.ci/run makes it)" % PYTHON)
    for mode, ack in (("delta", "async"), ("backup", "sync")):
        with Cluster(3, mode=mode, ack=ack, redis=True) as cluster:
            cluster.start_all()
            with_redis_cli(cluster, ack)
            with_redis_py(cluster, mode, ack)
    wait_when_a_holder_dies()


if __name__ == "__main__":
    main(scenario)
