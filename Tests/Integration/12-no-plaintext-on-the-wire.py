#!/usr/bin/env python3
"""No readable session data on the wire: capture the cluster's replication and membership traffic on the
loopback interface while sessions are written, copied to a joining node and read across nodes, then search
the capture for the attribute values. HTTP (client-facing, not cluster traffic) is left out of the capture."""
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from cluster import Cluster, Client, check, main, say, SkipScenario


def scenario():
    tool = shutil.which("tcpdump")
    if tool is None:
        raise SkipScenario("tcpdump not installed (Debian package tcpdump)")
    if os.geteuid() != 0:
        raise SkipScenario("capturing on lo needs root")
    with Cluster(3, mode="delta", extra_nodes=1) as cluster:
        config = json.load(open(cluster.path))
        ports = [cluster.replication[n].split(":")[1] for n in cluster.names] + [str(config["membership"]["multicast"]["port"])]
        capture = cluster.path + ".pcap"
        expression = " or ".join("port %s" % p for p in ports)
        dump = subprocess.Popen([tool, "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", capture, expression],
                                stdout=subprocess.DEVNULL, stderr=open(capture + ".log", "w"))
        try:
            time.sleep(1.0)
            cluster.start_all()
            markers = []
            for i in range(30):
                marker = "SECRET-%s" % uuid.uuid4().hex
                markers.append(marker)
                client = Client()
                client.login(cluster.url(cluster.names[i % 3]), "user-" + marker)
                check(client.put(cluster.url(cluster.names[(i + 1) % 3]), "card", marker) == 204, "write failed")
                status, session = client.session(cluster.url(cluster.names[(i + 2) % 3]))
                check(status == 200 and session["attributes"]["card"] == marker, "read failed")
            cluster.start("n4")  # state transfer: every session copied to the newcomer
            cluster.wait_formed(cluster.names)
            deadline = time.time() + 10
            while cluster.stats("n4")["sessions"] < 30 and time.time() < deadline:
                time.sleep(0.1)
            check(cluster.stats("n4")["sessions"] == 30, "state transfer incomplete")
            time.sleep(0.5)
        finally:
            dump.send_signal(signal.SIGINT)
            dump.wait(10)
        data = open(capture, "rb").read()
        report = open(capture + ".log").read()
        os.remove(capture)
        os.remove(capture + ".log")
        say("tcpdump: " + " ".join(report.split()))
        check(len(data) > 20_000, "capture too small (%d bytes): did it see the cluster traffic?" % len(data))
        leaked = [m for m in markers if m.encode() in data or m[7:].encode() in data]
        check(not leaked, "%d attribute values readable in the capture" % len(leaked))
        check(b"alice" not in data and b"user-" not in data, "user names readable in the capture")
        say("captured %d bytes of replication and membership traffic (writes, reads, a state transfer to a new node): "
            "none of the %d secret values, nor any user name, is readable" % (len(data), len(markers)))


main(scenario)
