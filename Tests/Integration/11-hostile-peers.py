#!/usr/bin/env python3
"""Hostile peers: garbage, truncated, oversized, replayed, wrong-key and wrong-cluster datagrams and frames
against a live cluster. The cluster keeps its membership and its sessions, and /metrics counts each kind
of drop."""
import json
import os
import random
import socket
import struct
import subprocess
import time
from cluster import BINARY, Cluster, Client, check, free_ports, main, say


def metrics(cluster, name):
    status, body, _ = Client().request("GET", cluster.url(name) + "/metrics")
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            metric, value = line.rsplit(" ", 1)
            # Histogram sums are decimal seconds; every counter is an integer.
            values[metric.split("{")[0].replace("sessioncluster_", "")] = int(value) if value.isdigit() else float(value)
    return values


def sniff_beacon(group, port, timeout=3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
    s.settimeout(timeout)
    try:
        return s.recv(65536)
    finally:
        s.close()


def scenario():
    rng = random.Random(7)
    with Cluster(3, mode="delta") as cluster:
        cluster.start_all()
        names = cluster.initial
        config = json.load(open(cluster.path))
        group, port = config["membership"]["multicast"]["group"], config["membership"]["multicast"]["port"]
        clients = []
        for i in range(20):
            client = Client()
            client.login(cluster.url(names[i % 3]), "u%d" % i)
            check(client.put(cluster.url(names[(i + 1) % 3]), "k", str(i)) == 204, "write failed")
            clients.append(client)
        before = {n: metrics(cluster, n) for n in names}
        beacon = sniff_beacon(group, port)
        check(len(beacon) > 30, "no beacon captured")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = {"garbage": 0, "truncated": 0, "oversized": 0, "replayed": 0, "tcp": 0}
        targets = [tuple(cluster.replication[n].split(":")) for n in names]
        targets = [(h, int(p)) for h, p in targets] + [(group, port)]
        for _ in range(300):
            for target in targets:
                udp.sendto(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))), target)
                sent["garbage"] += 1
                udp.sendto(beacon[:rng.randrange(1, len(beacon))], target)
                sent["truncated"] += 1
        for target in targets:
            for _ in range(20):
                udp.sendto(beacon, target)  # a real beacon, already delivered: replayed
                sent["replayed"] += 1
            udp.sendto(os.urandom(60000), target)
            sent["oversized"] += 1
            tampered = bytearray(beacon)
            tampered[-1] ^= 1
            udp.sendto(bytes(tampered), target)
        # TCP: garbage, an absurd length prefix, a truncated envelope, a plaintext hello.
        for name in names:
            host, p = cluster.replication[name].split(":")
            for payload in (os.urandom(500), struct.pack(">I", 0xFFFFFFF0) + b"x" * 100,
                            struct.pack(">I", 200) + beacon[:50], b"SC\x01\x01\x00\x00\x00\x05hello"):
                connection = socket.create_connection((host, int(p)), timeout=2)
                connection.sendall(payload)
                time.sleep(0.01)
                connection.close()
                sent["tcp"] += 1
        # Wrong key and wrong cluster: a rogue node with its own secret and cluster name beacons to the nodes.
        rogue_ports = free_ports(2)
        rogue = {
            "cluster": config["cluster"] + "-rogue", "secret": "a different secret, also 32 bytes long!",
            "membership": {"multicast": {"group": group, "port": port, "interface": "127.0.0.1"},
                           "heartbeatMillis": 50, "seeds": [cluster.replication[n] for n in names]},
            "nodes": [{"name": "rogue", "replication": "127.0.0.1:%d" % rogue_ports[0], "http": "127.0.0.1:%d" % rogue_ports[1]}],
        }
        rogue_path = cluster.path + ".rogue.json"
        json.dump(rogue, open(rogue_path, "w"))
        process = subprocess.Popen([BINARY, "run", "--config", rogue_path, "--node", "rogue"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)
        finally:
            process.terminate()
            process.wait(10)
            os.remove(rogue_path)
        time.sleep(0.5)
        after = {n: metrics(cluster, n) for n in names}
        for name in names:
            check(cluster.alive(name) == sorted(names), "%s sees %s after the attacks" % (name, cluster.alive(name)))
        for i, client in enumerate(clients):
            status, session = client.session(cluster.url(names[(i + 2) % 3]))
            check(status == 200 and session["attributes"].get("k") == str(i), "session %d damaged (%d)" % (i, status))
        totals = {}
        for kind in ("dropped_malformed", "dropped_unauthenticated", "dropped_replayed", "malformed_dropped"):
            totals[kind] = sum(after[n].get(kind, 0) - before[n].get(kind, 0) for n in names)
            check(totals[kind] > 0, "no %s counted" % kind)
        say("sent %s; counted %s; membership and all %d sessions intact"
            % (", ".join("%d %s" % (v, k) for k, v in sent.items()), ", ".join("%s %d" % kv for kv in totals.items()), len(clients)))


main(scenario)
