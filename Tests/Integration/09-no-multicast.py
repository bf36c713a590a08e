#!/usr/bin/env python3
"""No multicast: a seeds-only cluster (unicast beacons) forms and replicates."""
import time
from cluster import Cluster, Client, check, main, say


def scenario():
    with Cluster(3, mode="delta", multicast=False) as cluster:
        start = time.time()
        cluster.start_all()
        formed = time.time() - start
        names = cluster.initial
        client = Client()
        client.login(cluster.url(names[2]), "carol")
        check(client.put(cluster.url(names[1]), "seen", "yes") == 204, "write failed")
        for name in names:
            status, session = client.session(cluster.url(name))
            check(status == 200 and session["attributes"].get("seen") == "yes", "%s answered %d" % (name, status))
        say("seeds only: 3 nodes formed in %.2f s (processes included) and replicate" % formed)


main(scenario)
