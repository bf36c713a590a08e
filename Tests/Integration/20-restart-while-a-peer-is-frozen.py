#!/usr/bin/env python3
"""A node restarted while another is frozen (SIGSTOP: silent, as behind a partition), both modes. Old cookies
(their sessions lost in an earlier full restart) get 503 on the restarted node while the frozen one might still
hold them, and 401 within seconds once it is back: the restarted node must not keep waiting for its own previous
incarnation, which peers gossip as dead (before the fix: 503 for the whole minute a dead member is remembered).
"""
import signal
import time
from cluster import Cluster, Client, check, main, say

LIMIT = 10.0  # seconds after the frozen node resumed and the cluster re-formed


def old_cookie_jars(cluster, names, count=3):
    jars = []
    for i in range(count):
        client = Client()
        client.login(cluster.url(names[i % 3]), "u%d" % i)
        jars.append(dict(client.cookies))
        client.close()
    for name in names:
        cluster.stop(name)
    for name in names:
        cluster.start(name)
    cluster.wait_formed(names)
    return jars


def answers(cluster, name, jars):
    statuses = []
    for jar in jars:
        client = Client(jar)
        statuses.append(client.request("GET", cluster.url(name) + "/session")[0])
        client.close()
    return statuses


def scenario():
    for mode in ("delta", "backup"):
        with Cluster(3, mode=mode) as cluster:
            cluster.start_all()
            names = cluster.initial
            frozen, restarted, other = names
            jars = old_cookie_jars(cluster, names)
            deadline = time.time() + 8
            while time.time() < deadline and any(s != 401 for n in names for s in answers(cluster, n, jars)):
                time.sleep(0.2)
            check(all(s == 401 for n in names for s in answers(cluster, n, jars)),
                  "%s: old cookies not 401 after the full restart" % mode)

            cluster.kill(frozen, signal.SIGSTOP)
            try:
                cluster.kill(restarted)
                cluster.start(restarted)
                cluster.wait_formed([restarted, other], timeout=15)
                time.sleep(1.0)
                during = answers(cluster, restarted, jars)
            finally:
                cluster.kill(frozen, signal.SIGCONT)
            resumed = time.time()
            cluster.wait_formed(names, timeout=15)
            first_401 = None
            seen = {}
            while time.time() - resumed < LIMIT + 5:
                statuses = answers(cluster, restarted, jars)
                for status in statuses:
                    seen[status] = seen.get(status, 0) + 1
                if all(s == 401 for s in statuses):
                    first_401 = time.time() - resumed
                    break
                time.sleep(0.2)
            say("%s: while %s was frozen the restarted %s answered %s; after the resume all 401 in %s "
                "(answers seen %s)" % (mode, frozen, restarted, during,
                                       "%.2f s" % first_401 if first_401 is not None else "never",
                                       dict(sorted(seen.items()))))
            check(all(s in (401, 503) for s in during), "%s: unexpected answers while frozen: %s" % (mode, during))
            check(first_401 is not None and first_401 <= LIMIT,
                  "%s: old cookies still not 401 %.0f s after the frozen node came back" % (mode, LIMIT))
            check(all(s == 401 for n in names for s in answers(cluster, n, jars)),
                  "%s: some node does not answer 401" % mode)


main(scenario)
