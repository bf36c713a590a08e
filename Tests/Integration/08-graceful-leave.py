#!/usr/bin/env python3
"""Graceful leave: SIGTERM a node; its peers drop it in under 500 ms and no session is lost."""
import time
from cluster import Cluster, Client, check, main, say


def scenario():
    for mode, nodes in (("delta", 3), ("backup", 4)):
        with Cluster(nodes, mode=mode, ack="sync") as cluster:
            cluster.start_all()
            names = cluster.initial
            leaver, peers = names[-1], names[:-1]
            clients = []
            for i in range(60):
                client = Client()
                client.login(cluster.url(names[i % len(names)]), "u%d" % i)
                check(client.put(cluster.url(names[(i + 1) % len(names)]), "k", str(i)) == 204, "write failed")
                clients.append(client)
            start = time.time()
            cluster.processes[leaver].send_signal(15)
            dropped = {}
            while len(dropped) < len(peers) and time.time() - start < 5:
                for peer in peers:
                    if peer not in dropped and leaver not in cluster.alive(peer):
                        dropped[peer] = (time.time() - start) * 1000
                time.sleep(0.005)
            status = cluster.processes[leaver].wait(10)
            check(status == 0, "%s exited with %d" % (leaver, status))
            check(len(dropped) == len(peers), "%s: peers that never dropped %s: %s" % (mode, leaver, set(peers) - set(dropped)))
            worst = max(dropped.values())
            check(worst < 500, "%s: slowest peer dropped the leaver after %.0f ms" % (mode, worst))
            for i, client in enumerate(clients):
                status, session = client.session(cluster.url(peers[i % len(peers)]))
                check(status == 200 and session["attributes"].get("k") == str(i), "%s: session %d lost (%d)" % (mode, i, status))
            say("%s: peers dropped the leaving node after %s ms; all %d sessions intact"
                % (mode, ", ".join("%.0f" % v for v in sorted(dropped.values())), len(clients)))


main(scenario)
