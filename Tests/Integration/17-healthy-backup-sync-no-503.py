#!/usr/bin/env python3
"""A healthy `backup`/`sync` cluster never answers 503: 10,000 write→read hops (4 clients, each with its own session
and keep-alive connections, as a balancer spreading requests: half the hops round-robin — write on node i, read on
node i+1, so every write moves the session's primary — half a random node then another, seeded) must all succeed,
and every read shows the value just written."""
import random
import threading
import time
from cluster import Cluster, Client, check, main, percentile, say

HOPS = 10_000
CLIENTS = 4
TIME_LIMIT = 150  # seconds, for all hops


def scenario():
    with Cluster(3, mode="backup", ack="sync") as cluster:
        cluster.start_all()
        names = cluster.initial
        outcomes = [dict(statuses={}, stale=[], latencies=[], hops=0) for _ in range(CLIENTS)]
        deadline = time.time() + TIME_LIMIT

        def run(index):
            record = outcomes[index]
            chooser = random.Random(1000 + index)
            client = Client()
            client.login(cluster.url(names[index % 3]), "user%d" % index)
            for hop in range(HOPS // CLIENTS):
                if time.time() > deadline:
                    break
                if index % 2 == 0:
                    writer, reader = names[(index + hop) % 3], names[(index + hop + 1) % 3]
                else:
                    writer, reader = chooser.sample(names, 2)
                began = time.time()
                status = client.put(cluster.url(writer), "k", str(hop))
                record["statuses"][status] = record["statuses"].get(status, 0) + 1
                read, session = client.session(cluster.url(reader))
                record["latencies"].append((time.time() - began) * 1000)
                record["statuses"][read] = record["statuses"].get(read, 0) + 1
                if status == 204 and (read != 200 or session["attributes"].get("k") != str(hop)):
                    record["stale"].append((hop, writer, reader, read, session and session["attributes"].get("k")))
                record["hops"] += 1
            client.close()

        began = time.time()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.time() - began
        hops = sum(o["hops"] for o in outcomes)
        statuses = {}
        for outcome in outcomes:
            for status, count in outcome["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        latencies = [value for o in outcomes for value in o["latencies"]]
        stale = [entry for o in outcomes for entry in o["stale"]]
        say("%d hops in %.1f s (%.0f hops/s); answers %s; hop p50 %.2f ms, p99 %.2f ms, max %.1f ms"
            % (hops, took, hops / took, dict(sorted(statuses.items())), percentile(latencies, 0.5),
               percentile(latencies, 0.99), max(latencies)))
        check(hops == HOPS, "only %d of %d hops within %d s" % (hops, HOPS, TIME_LIMIT))
        check(503 not in statuses, "a healthy backup/sync cluster answered 503 %d times" % statuses.get(503, 0))
        check(set(statuses) <= {200, 204}, "unexpected answers: %s" % statuses)
        check(not stale, "reads that missed the write just made: %s" % stale[:5])
        lost = sum(cluster.stats(n).get("sync_timed_out", 0) for n in names)
        say("sync acknowledgements timed out: %d" % lost)


main(scenario)
