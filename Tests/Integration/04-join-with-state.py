#!/usr/bin/env python3
"""A node joining a loaded cluster receives the existing sessions (state transfer).

Delta mode, 3 nodes + 1 joining: the new node must end up holding all N sessions and serve them (each read with
the session's own cookies, version token included). Backup mode, 4 nodes + 1 joining: after the join every
session is still readable and held exactly twice."""
import http.client
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Client, Cluster, check, main, say  # noqa: E402

SESSIONS = 10_000
THREADS = 6
CREATE_SECONDS = 35.0


def create_sessions(cluster, count):
    """Logs in `count` users at random running nodes from THREADS keep-alive clients (bounded in time);
    returns [(cookies, user)]."""
    nodes = cluster.running()
    made, errors = [], []
    lock = threading.Lock()
    deadline = time.time() + CREATE_SECONDS

    def worker(index):
        rng = random.Random(index)
        client = Client()
        mine = []
        try:
            for i in range(index, count, THREADS):
                if time.time() > deadline:
                    break
                user = "u%d" % i
                client.cookies = {}  # a fresh login: no session to carry over
                client.login(cluster.url(rng.choice(nodes)), user)
                mine.append((dict(client.cookies), user))
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(repr(error))
        finally:
            client.close()
            with lock:
                made.extend(mine)

    start = time.time()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    say("created %d sessions in %.2fs (%.0f logins/s, %d threads)" % (len(made), elapsed, len(made) / elapsed, THREADS))
    check(not errors, "login errors: %s" % errors[:3])
    check(len(made) == count, "only %d of %d sessions created within %.0fs" % (len(made), count, CREATE_SECONDS))
    return made


def read_sample(cluster, sessions, node_of, timeout=20.0):
    """Reads each (cookies, user) through node_of(i); 503 is retried until `timeout`. Returns (ok, failures)."""
    deadline = time.time() + timeout
    client = Client()
    ok, failures, retries = 0, [], 0
    for i, (cookies, user) in enumerate(sessions):
        node = node_of(i)
        while True:
            client.cookies = dict(cookies)
            status, body = client.session(cluster.url(node))
            if status == 503 and time.time() < deadline:
                retries += 1
                time.sleep(0.05)
                continue
            break
        if status == 200 and body["user"] == user:
            ok += 1
        else:
            failures.append("%s via %s: %d %s" % (user, node, status, body))
    client.close()
    return ok, failures, retries


def quick_get(cluster, name, path, timeout=2.0):
    """One GET on a fresh connection with a short timeout (diagnostics must not wait 10 s on a stalled node)."""
    connection = http.client.HTTPConnection(cluster.http[name], timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class StallProbe:
    """Polls /cluster/members of the given nodes every 20 ms (bounded in time) and keeps the slowest answer:
    how long a node's loop was too busy to answer while the join went on (2 s at most: the probe's timeout)."""

    def __init__(self, cluster, names, seconds=30.0):
        self.worst = {n: 0.0 for n in names}
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(cluster, n, time.time() + seconds)) for n in names]
        for t in self.threads:
            t.start()

    def run(self, cluster, name, deadline):
        while not self.done.is_set() and time.time() < deadline:
            began = time.time()
            try:
                quick_get(cluster, name, "/cluster/members")
            except (OSError, http.client.HTTPException):
                pass
            self.worst[name] = max(self.worst[name], time.time() - began)
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join()
        return ", ".join("%s %s" % (n, ("%.0f ms" % (1000 * w)) if w < 1.9 else ">=2000 ms (timed out)")
                         for n, w in sorted(self.worst.items()))


def alive_view(cluster, name):
    try:
        members = json.loads(quick_get(cluster, name, "/cluster/members")[1])["members"]
        return sorted(m["name"] for m in members if m["state"] == "alive")
    except (OSError, http.client.HTTPException, ValueError) as error:
        return repr(error)


def join(cluster, name, timeout=15):
    """Starts `name` and waits (with short request timeouts) for every node to see all; on failure prints how
    busy the nodes were and what each sees, then SIGKILLs them (a stalled node may not stop gracefully in
    time). Returns (launch time, probe)."""
    probe = StallProbe(cluster, cluster.running())
    launched = time.time()
    cluster.start(name)
    everyone = sorted(cluster.names)
    while time.time() - launched < timeout:
        if all(alive_view(cluster, n) == everyone for n in cluster.names):
            return launched, probe
        time.sleep(0.05)
    say("slowest /cluster/members answer while %s joined: %s" % (name, probe.stop()))
    say("alive views %ds after launch: %s" % (timeout, {n: alive_view(cluster, n) for n in cluster.names}))
    for n in cluster.running():
        cluster.kill(n)
    raise AssertionError("the cluster did not re-form within %ds of %s's launch (%d sessions)" %
                         (timeout, name, SESSIONS))


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def delta_join():
    say("== delta mode: 3 nodes + n4 joining")
    with Cluster(3, mode="delta", extra_nodes=1) as cluster:
        cluster.start_all()
        sessions = create_sessions(cluster, SESSIONS)
        ok = wait_for(lambda: all(cluster.stats(n)["sessions"] == SESSIONS for n in cluster.initial), 10)
        check(ok, "before the join not every node holds %d sessions: %s" %
              (SESSIONS, {n: cluster.stats(n)["sessions"] for n in cluster.initial}))

        launched, probe = join(cluster, "n4")
        formed = time.time() - launched

        def n4_count():
            try:
                return cluster.stats("n4")["sessions"]
            except OSError:
                return -1
        held = wait_for(lambda: n4_count() >= SESSIONS, 30)
        transferred = time.time() - launched
        say("slowest /cluster/members answer while n4 joined: %s" % probe.stop())
        say("n4: membership formed %.2fs after launch; stats sessions %d after %.2fs" %
            (formed, n4_count(), transferred))
        check(held, "n4 holds %d sessions 30s after launch, expected %d" % (n4_count(), SESSIONS))

        sample = random.sample(sessions, 500)
        good, failures, retries = read_sample(cluster, sample, lambda i: "n4")
        served = time.time() - launched
        say("n4 served %d/%d sampled sessions (own cookies + token), all read %.2fs after launch (503 retries: %d)" %
            (good, len(sample), served, retries))
        check(not failures, "%d sampled sessions not served by n4, e.g. %s" % (len(failures), failures[:3]))

        counts = {n: cluster.stats(n)["sessions"] for n in cluster.names}
        say("sessions per node after the join: %s" % counts)
        check(all(c == SESSIONS for c in counts.values()), "sessions missing after the join: %s" % counts)
        say("delta join: stats complete after %.2fs, sample served after %.2fs" % (transferred, served))


def backup_join():
    say("== backup mode: 4 nodes + n5 joining")
    with Cluster(4, mode="backup", extra_nodes=1) as cluster:
        cluster.start_all()
        sessions = create_sessions(cluster, SESSIONS)

        def totals(names):
            per = {n: cluster.stats(n) for n in names}
            return per, sum(s["sessions"] for s in per.values()), sum(s["primaries"] for s in per.values())

        wait_for(lambda: totals(cluster.initial)[1:] == (2 * SESSIONS, SESSIONS), 10)
        per, held, primaries = totals(cluster.initial)
        moved_before = sum(s["backups_moved"] for s in per.values())
        say("before the join: held %d, primaries %d; per node %s" %
            (held, primaries, {n: per[n]["sessions"] for n in cluster.initial}))
        check((held, primaries) == (2 * SESSIONS, SESSIONS), "before the join: held %d, primaries %d" %
              (held, primaries))

        launched, probe = join(cluster, "n5")
        formed = time.time() - launched

        def placed():
            per, held, primaries = totals(cluster.names)
            return (held, primaries) == (2 * SESSIONS, SESSIONS) and per["n5"]["sessions"] > 0
        settled = wait_for(placed, 30, 0.1)
        settle_time = time.time() - launched
        time.sleep(0.5)
        say("slowest /cluster/members answer while n5 joined: %s" % probe.stop())
        per, held, primaries = totals(cluster.names)
        moved = sum(s["backups_moved"] for s in per.values()) - moved_before
        say("n5: formed %.2fs after launch; totals settled after %.2fs: held %d, primaries %d" %
            (formed, settle_time, held, primaries))
        say("per node after the join: %s" % ", ".join("%s=%d/%d" % (n, per[n]["sessions"], per[n]["primaries"])
                                                      for n in cluster.names))
        say("backups_moved counter grew by %d (%.1f%% of %d sessions; 1/N = 20%%)" %
            (moved, 100.0 * moved / SESSIONS, SESSIONS))
        check(settled, "after the join: held %d (want %d), primaries %d (want %d)" %
              (held, 2 * SESSIONS, primaries, SESSIONS))

        sample = random.sample(sessions, 300)
        good, failures, retries = read_sample(cluster, sample, lambda i: cluster.names[i % len(cluster.names)])
        say("%d/%d sampled sessions readable across all 5 nodes (503 retries: %d)" % (good, len(sample), retries))
        check(not failures, "%d sampled sessions unreadable after the join, e.g. %s" % (len(failures), failures[:3]))
        ok = wait_for(lambda: totals(cluster.names)[1:] == (2 * SESSIONS, SESSIONS), 10, 0.1)
        per, held, primaries = totals(cluster.names)
        say("after the reads: held %d, primaries %d" % (held, primaries))
        check(ok, "after the reads: held %d (want %d), primaries %d (want %d)" %
              (held, 2 * SESSIONS, primaries, SESSIONS))


def scenario():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the nodes are stopped if we are
    started = time.time()
    delta_join()
    backup_join()
    say("total %.1fs" % (time.time() - started))


if __name__ == "__main__":
    main(scenario)
