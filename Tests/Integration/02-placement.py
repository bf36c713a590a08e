#!/usr/bin/env python3
"""Backup mode, 4 nodes: every session is held by exactly two nodes (primary + backup), and reading a session
through every node keeps it that way (a node without a copy takes it over: still one primary, one backup)."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Client, Cluster, check, main, say  # noqa: E402

SESSIONS = 200
SAMPLE = 20


def totals(cluster):
    per = {n: cluster.stats(n) for n in cluster.names}
    return per, sum(s["sessions"] for s in per.values()), sum(s["primaries"] for s in per.values())


def settle(cluster, label, timeout=5.0):
    """Waits ~1 s, then up to `timeout` more for the totals to read 2×SESSIONS / SESSIONS; returns the stats."""
    start = time.time()
    time.sleep(1.0)
    deadline = start + 1.0 + timeout
    while True:
        per, held, primaries = totals(cluster)
        if (held, primaries) == (2 * SESSIONS, SESSIONS) or time.time() > deadline:
            break
        time.sleep(0.1)
    say("%s: held %d (want %d), primaries %d (want %d), settled after %.2fs" %
        (label, held, 2 * SESSIONS, primaries, SESSIONS, time.time() - start))
    for n in cluster.names:
        say("  %s: sessions %4d  primaries %4d  copies %4d  takeovers %d  backups_moved %d" %
            (n, per[n]["sessions"], per[n]["primaries"], per[n]["copies"], per[n]["takeovers"],
             per[n]["backups_moved"]))
    check(held == 2 * SESSIONS, "%s: nodes hold %d sessions in all, expected %d (primary + backup each)" %
          (label, held, 2 * SESSIONS))
    check(primaries == SESSIONS, "%s: %d primaries in all, expected %d" % (label, primaries, SESSIONS))


def scenario():
    rng = random.Random()
    with Cluster(4, mode="backup") as cluster:
        cluster.start_all()
        clients = []
        logins = {n: 0 for n in cluster.names}
        start = time.time()
        for i in range(SESSIONS):
            node = rng.choice(cluster.names)
            client = Client()
            client.login(cluster.url(node), "user%d" % i)
            clients.append((client, "user%d" % i))
            logins[node] += 1
        say("%d logins in %.2fs; logins per node: %s" %
            (SESSIONS, time.time() - start, ", ".join("%s=%d" % kv for kv in sorted(logins.items()))))
        settle(cluster, "after logins")

        reads, latencies = 0, []
        for client, user in rng.sample(clients, SAMPLE):
            for node in cluster.names:
                began = time.time()
                status, body = client.session(cluster.url(node))
                latencies.append(time.time() - began)
                reads += 1
                check(status == 200, "%s's session read through %s answered %d" % (user, node, status))
                check(body["user"] == user and body["node"] == node,
                      "%s's session read through %s gave %s" % (user, node, body))
        latencies.sort()
        say("%d reads of %d sampled sessions through all 4 nodes: all 200; latency median %.1f ms, max %.1f ms" %
            (reads, SAMPLE, 1000 * latencies[len(latencies) // 2], 1000 * latencies[-1]))
        settle(cluster, "after cross-node reads")
        for client, _ in clients:
            client.close()


if __name__ == "__main__":
    main(scenario)
