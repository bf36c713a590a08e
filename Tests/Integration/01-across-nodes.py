#!/usr/bin/env python3
"""Across nodes: log in on one node, then write on one node and read on the next, hop after hop, with
read-your-writes on every hop (no retries). Both replication modes."""
import time
from cluster import Cluster, Client, check, main, percentile, say


def scenario():
    for mode, nodes in (("delta", 3), ("backup", 4)):
        with Cluster(nodes, mode=mode) as cluster:
            cluster.start_all()
            names = cluster.initial
            client = Client()
            client.login(cluster.url(names[0]), "alice")
            hops, latencies = 200, []
            for hop in range(hops):
                writer = cluster.url(names[hop % len(names)])
                reader = cluster.url(names[(hop + 1) % len(names)])
                start = time.perf_counter()
                check(client.put(writer, "step", str(hop)) == 204, "%s hop %d: write failed" % (mode, hop))
                status, session = client.session(reader)
                latencies.append((time.perf_counter() - start) * 1000)
                check(status == 200, "%s hop %d: read answered %d" % (mode, hop, status))
                check(session["attributes"].get("step") == str(hop),
                      "%s hop %d: read %s, wrote %d" % (mode, hop, session["attributes"].get("step"), hop))
            say("%s: %d hops across %d nodes, write+read on the next node p50 %.2f ms, p99 %.2f ms"
                % (mode, hops, len(names), percentile(latencies, 0.5), percentile(latencies, 0.99)))


main(scenario)
