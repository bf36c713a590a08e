#!/usr/bin/env python3
"""A node whose clock runs an hour ahead (test-only SESSIONCLUSTER_CLOCK_OFFSET_MILLIS) does not drag the
others' hybrid logical clocks: with traffic through all three nodes, n1's and n2's HLC stay within
maxClockDriftMillis (60 s) of their own clocks, and they count (and log, naming the peer) the refused changes."""
import time
from cluster import Cluster, Client, check, main, say

HOUR = 3_600_000
BOUND = 60_000


def scenario():
    with Cluster(3, mode="delta") as cluster:
        cluster.start("n1")
        cluster.start("n2")
        cluster.start("n3", env={"SESSIONCLUSTER_CLOCK_OFFSET_MILLIS": str(HOUR)})
        cluster.wait_formed(cluster.initial)
        fast = cluster.stats("n3")
        check(fast["clock_ms"] - time.time() * 1000 > HOUR - BOUND,
              "n3's clock is not an hour ahead (clock %d, now %d)" % (fast["clock_ms"], time.time() * 1000))
        names = cluster.initial
        statuses, lead = {}, {"n1": 0, "n2": 0}
        deadline = time.time() + 60
        rounds = 0
        while rounds < 30 and time.time() < deadline:
            # A client logs in on each node in turn, writes on the next and reads on the one after.
            client = Client()
            home = names[rounds % 3]
            try:
                client.login(cluster.url(home), "user%d" % rounds)
                status = client.put(cluster.url(names[(rounds + 1) % 3]), "cart", str(rounds))
                statuses[status] = statuses.get(status, 0) + 1
                status, _ = client.session(cluster.url(names[(rounds + 2) % 3]))
                statuses[status] = statuses.get(status, 0) + 1
            finally:
                client.close()
            for name in ("n1", "n2"):
                stats = cluster.stats(name)
                lead[name] = max(lead[name], stats["hlc_ms"] - stats["clock_ms"])
            rounds += 1
        refused = {name: cluster.stats(name)["clock_ahead_rejected"] for name in ("n1", "n2")}
        say("%d rounds through 3 nodes (n3 one hour ahead): answers %s" % (rounds, dict(sorted(statuses.items()))))
        say("HLC lead over own clock: n1 %d ms, n2 %d ms (bound %d ms); refused from n3: n1 %d, n2 %d"
            % (lead["n1"], lead["n2"], BOUND, refused["n1"], refused["n2"]))
        for name in ("n1", "n2"):
            check(lead[name] <= BOUND, "%s's HLC moved %d ms ahead of its clock" % (name, lead[name]))
        check(refused["n1"] + refused["n2"] > 0, "no change from n3 was refused")
        logged = 0
        for name in ("n1", "n2"):
            with open(cluster.path + "." + name + ".log") as log:
                logged += sum(1 for line in log if "refused changes from" in line)
        check(logged > 0, "no log line names the peer with the wrong clock")
        say("log lines naming the peer: %d (rate-limited to one per 10 s per node)" % logged)


main(scenario)
