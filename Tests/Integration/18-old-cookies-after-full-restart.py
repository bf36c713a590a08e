#!/usr/bin/env python3
"""Full stop and start of a 3-node cluster (both modes): the old cookies (session and version token) name
sessions no live member holds and incarnations that are gone, so within 5 s of the restart every node answers
them 401 — GET /session and POST /logout alike — and counts `sessions_lost`; never 503 forever."""
import time
from cluster import Cluster, Client, check, main, say

LIMIT = 5.0  # seconds after the restarted cluster formed


def scenario():
    for mode in ("delta", "backup"):
        with Cluster(3, mode=mode, ack="sync") as cluster:
            cluster.start_all()
            names = cluster.initial
            jars = []
            for i in range(6):
                client = Client()
                client.login(cluster.url(names[i % 3]), "u%d" % i)
                check(client.put(cluster.url(names[(i + 1) % 3]), "k", "v%d" % i) == 204, "%s: write failed" % mode)
                jars.append(dict(client.cookies))
                client.close()
            check(all(len(jar) >= 2 for jar in jars), "%s: expected a session and a version cookie: %s" % (mode, jars[0]))
            for name in names:
                check(cluster.stop(name) == 0, "%s: %s did not stop cleanly" % (mode, name))
            for name in names:
                cluster.start(name)
            cluster.wait_formed(names)
            formed = time.time()

            answers, first_401 = {}, {}
            pending = {(i, method) for i in range(len(jars)) for method in ("GET", "POST")}
            while pending and time.time() - formed < LIMIT + 1:
                for i, method in sorted(pending):
                    client = Client(jars[i])
                    node = cluster.url(names[(i + (method == "POST")) % 3])
                    path = "/session" if method == "GET" else "/logout"
                    status = client.request(method, node + path)[0]
                    client.close()
                    answers[status] = answers.get(status, 0) + 1
                    if status == 401:
                        first_401[(i, method)] = time.time() - formed
                        pending.discard((i, method))
                    else:
                        check(status == 503, "%s: old cookie answered %d" % (mode, status))
                time.sleep(0.1)
            lost = sum(cluster.stats(n).get("sessions_lost", 0) for n in names)
            slowest = max(first_401.values()) if first_401 else float("inf")
            say("%s: %d old cookie jars; all 401 after %.2f s (answers seen %s); sessions_lost counted %d"
                % (mode, len(jars), slowest, dict(sorted(answers.items())), lost))
            check(not pending, "%s: still not 401 after %.0f s: %s" % (mode, LIMIT, sorted(pending)))
            check(slowest <= LIMIT, "%s: the last old cookie got 401 only after %.2f s" % (mode, slowest))
            check(lost > 0, "%s: sessions_lost not counted" % mode)


main(scenario)
