#!/usr/bin/env python3
"""A lone `sync` node (both modes) answers a login, a write and a logout within its ack timeout (2 s default):
with no live peer, "acknowledged by every live peer" is nobody, so a commit answers at once. Then a second node
joins, is killed with SIGKILL, and the survivor still answers every write within the ack timeout."""
import time
from cluster import Cluster, Client, check, main, say

ACK_TIMEOUT_MS = 2000  # ReplicationSettings.syncAckTimeoutMillis default


def timed(call):
    began = time.time()
    result = call()
    return result, (time.time() - began) * 1000


def scenario():
    for mode in ("delta", "backup"):
        with Cluster(1, mode=mode, ack="sync", extra_nodes=1) as cluster:
            cluster.start_all()
            url = cluster.url("n1")
            client = Client()
            (status, _, _), login_ms = timed(lambda: client.request("POST", url + "/login", form={"user": "alice"}))
            check(status == 200, "%s: lone sync node answered login %d" % (mode, status))
            status, put_ms = timed(lambda: client.put(url, "cart", "3"))
            check(status == 204, "%s: lone sync node answered write %d" % (mode, status))
            (status, session), get_ms = timed(lambda: client.session(url))
            check(status == 200 and session["attributes"].get("cart") == "3", "%s: read %d %s" % (mode, status, session))
            check(max(login_ms, put_ms) < ACK_TIMEOUT_MS, "%s: login %.0f ms, write %.0f ms" % (mode, login_ms, put_ms))
            say("%s alone: login %.1f ms, write %.1f ms, read %.1f ms" % (mode, login_ms, put_ms, get_ms))

            # A peer joins, then dies without a word: writes still answer within the ack timeout.
            cluster.start("n2")
            cluster.wait_formed(["n1", "n2"])
            check(client.put(url, "cart", "4") == 204, "%s: write with a live peer failed" % mode)
            cluster.kill("n2")
            worst, statuses = 0.0, []
            for i in range(20):
                status, took = timed(lambda: client.put(url, "cart", str(10 + i)))
                statuses.append(status)
                worst = max(worst, took)
            check(worst < ACK_TIMEOUT_MS + 500, "%s: a write after the peer died took %.0f ms" % (mode, worst))
            check(statuses[-1] == 204, "%s: the survivor still refuses writes: %s" % (mode, statuses))
            (status, _, _), logout_ms = timed(lambda: client.request("POST", url + "/logout"))
            check(status in (200, 204), "%s: logout answered %d" % (mode, status))
            say("%s after the peer's SIGKILL: 20 writes, slowest %.1f ms, answers %s; logout %.1f ms"
                % (mode, worst, sorted(set(statuses)), logout_ms))
            client.close()


main(scenario)
