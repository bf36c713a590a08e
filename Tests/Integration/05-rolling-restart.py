#!/usr/bin/env python3
"""Rolling restart under load, `sync` acknowledgements: no acknowledged write is lost, no session is lost.

Client threads log in, then write and read their own session through random nodes while every node is stopped
gracefully (SIGTERM) and started again, one at a time. A request that fails (connection refused or reset, 503)
is not acknowledged; the client moves on to another node. At the end every session must be readable on every
node and hold, per attribute, the client's last acknowledged value (or a later one whose write was not
acknowledged but may have committed)."""
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Client, Cluster, check, main, say  # noqa: E402

CLIENTS = 6
ATTRIBUTES = ("a", "b", "c")
MAX_OPS = 4000            # per client
LOAD_SECONDS = 60.0       # hard bound per client, whatever happens


class Worker(threading.Thread):
    def __init__(self, index, cluster, stop):
        super().__init__()
        self.index, self.cluster, self.stop = index, cluster, stop
        self.rng = random.Random(index)
        self.client = Client()
        self.user = "rr%d" % index
        self.acked = {}          # attribute → last acknowledged value (int)
        self.attempted = {a: set() for a in ATTRIBUTES}  # values whose outcome is unknown or acknowledged
        self.counts = {"writes": 0, "acked": 0, "reads": 0, "read_ok": 0, "503": 0, "conn_errors": 0,
                       "401": 0, "other": 0}
        self.problems = []
        self.ready = threading.Event()

    def request(self, method, node, path, body=None, form=None):
        try:
            return self.client.request(method, self.cluster.url(node) + path, body=body, form=form)
        except Exception:  # noqa: BLE001 — a node going down: connection refused / reset / timeout
            self.client.connections.pop(self.cluster.http[node], None)
            self.counts["conn_errors"] += 1
            return None

    def run(self):
        deadline = time.time() + LOAD_SECONDS
        while not self.ready.is_set() and time.time() < deadline:
            answer = self.request("POST", self.rng.choice(self.cluster.names), "/login", form={"user": self.user})
            if answer and answer[0] == 200:
                self.ready.set()
            else:
                time.sleep(0.05)
        sequence = 0
        for _ in range(MAX_OPS):
            if self.stop.is_set() or time.time() > deadline:
                break
            node = self.rng.choice(self.cluster.names)
            if self.rng.random() < 0.6:
                attribute = self.rng.choice(ATTRIBUTES)
                sequence += 1
                self.counts["writes"] += 1
                self.attempted[attribute].add(sequence)
                answer = self.request("PUT", node, "/session/attributes/" + attribute, body=str(sequence))
                if answer is None:
                    continue
                if answer[0] == 204:
                    self.counts["acked"] += 1
                    self.acked[attribute] = sequence
                else:
                    self.tally(answer[0], node, "PUT")
            else:
                self.counts["reads"] += 1
                answer = self.request("GET", node, "/session")
                if answer is None:
                    continue
                if answer[0] == 200:
                    self.counts["read_ok"] += 1
                    self.check_read(answer[1], node)
                else:
                    self.tally(answer[0], node, "GET")
            time.sleep(0.003)
        self.client.close()

    def tally(self, status, node, what):
        if status == 503:
            self.counts["503"] += 1
        elif status == 401:
            self.counts["401"] += 1
            self.problems.append("%s %s via %s answered 401 (session lost?)" % (self.user, what, node))
        else:
            self.counts["other"] += 1
            self.problems.append("%s %s via %s answered %d" % (self.user, what, node, status))

    def check_read(self, body, node):
        attributes = json.loads(body)["attributes"]
        for attribute, value in self.acked.items():
            seen = int(attributes.get(attribute, "0"))
            if seen < value:
                self.problems.append("%s read %s=%d via %s after %d was acknowledged (stale read)" %
                                     (self.user, attribute, seen, node, value))


def final_check(cluster, workers):
    """Every session readable on every node with its last acknowledged values. Returns figures."""
    unacked_survivors = 0
    for worker in workers:
        if not worker.ready.is_set():
            raise AssertionError("%s never logged in" % worker.user)
        for node in cluster.names:
            deadline = time.time() + 5
            while True:
                client = Client(worker.client.cookies)
                status, body = client.session(cluster.url(node))
                client.close()
                if status != 503 or time.time() > deadline:
                    break
                time.sleep(0.1)
            check(status == 200, "%s's session answered %d on %s after the restarts (lost)" %
                  (worker.user, status, node))
            for attribute in ATTRIBUTES:
                seen = int(body["attributes"].get(attribute, "0"))
                last = worker.acked.get(attribute, 0)
                check(seen >= last, "%s on %s: %s=%d, but %d was acknowledged (acknowledged write lost)" %
                      (worker.user, node, attribute, seen, last))
                check(seen == 0 or seen in worker.attempted[attribute],
                      "%s on %s: %s=%d was never written" % (worker.user, node, attribute, seen))
                if seen > last and node == cluster.names[0]:
                    unacked_survivors += 1
    return unacked_survivors


def rolling(mode, nodes):
    say("== %s mode, sync, %d nodes" % (mode, nodes))
    with Cluster(nodes, mode=mode, ack="sync") as cluster:
        cluster.start_all()
        stop = threading.Event()
        workers = [Worker(i, cluster, stop) for i in range(CLIENTS)]
        for w in workers:
            w.start()
        for w in workers:
            w.ready.wait(10)
        time.sleep(1.0)
        began = time.time()
        try:
            for name in cluster.names:
                t0 = time.time()
                status = cluster.stop(name)
                stopped = time.time() - t0
                cluster.start(name)
                cluster.wait_formed(cluster.names, timeout=15)
                formed = time.time() - t0
                # the restarted node must hold its share again before the next one goes
                expected = CLIENTS if mode == "delta" else 2 * CLIENTS
                deadline = time.time() + 10
                while time.time() < deadline:
                    counts = {n: cluster.stats(n)["sessions"] for n in cluster.names}
                    if (mode == "delta" and all(c == CLIENTS for c in counts.values())) or \
                            (mode == "backup" and sum(counts.values()) == expected):
                        break
                    time.sleep(0.05)
                say("restart %s: stop (exit %s) %.2fs, back in membership %.2fs, sessions in place %.2fs %s" %
                    (name, status, stopped, formed, time.time() - t0, counts))
                time.sleep(1.0)
        finally:
            stop.set()
            for w in workers:
                w.join()
        say("restarts took %.1fs in all" % (time.time() - began))
        total = {k: sum(w.counts[k] for w in workers) for k in workers[0].counts}
        say("requests: %s" % ", ".join("%s %d" % kv for kv in total.items()))
        problems = [p for w in workers for p in w.problems]
        for p in problems[:10]:
            say("  " + p)
        check(not problems, "%d bad answers during the load (first: %s)" % (len(problems), problems[:1]))
        check(total["acked"] > 0, "no write was acknowledged")
        survivors = final_check(cluster, workers)
        stats = {n: cluster.stats(n) for n in cluster.names}
        say("after: sessions per node %s; writes_lost %d, sessions_lost %d, sync_timed_out %d" %
            ({n: s["sessions"] for n, s in stats.items()}, sum(s["writes_lost"] for s in stats.values()),
             sum(s["sessions_lost"] for s in stats.values()), sum(s["sync_timed_out"] for s in stats.values())))
        say("all %d sessions readable on all %d nodes with their last acknowledged values "
            "(%d attributes hold a later, unacknowledged write)" % (CLIENTS, nodes, survivors))


def scenario():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the nodes are stopped if we are
    rolling("delta", 3)
    rolling("backup", 4)


if __name__ == "__main__":
    main(scenario)
