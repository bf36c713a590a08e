#!/usr/bin/env python3
"""The Redis protocol, differentially: the same command sequences against a real redis-server and against a node;
every answer must be Redis's (RESP2, then the same again under RESP3 after HELLO 3).

Answers that legitimately differ are compared loosely: TTL/PTTL within a second, HELLO's id and version, INFO's
content (only the lines clients read), and the order of KEYS / SCAN results (Redis promises none). Needs
redis-server (Debian package; `.ci/run` installs it), else SKIP.
"""
import os
import shutil
import subprocess
import time

from cluster import Cluster, Resp, RespError, SkipScenario, check, free_ports, main, say

# Each sequence runs on keys of its own (`{p}` is replaced by a prefix unique to the sequence and protocol).
SEQUENCES = [
    # Strings and SET's options.
    [["SET", "{p}a", "1"], ["GET", "{p}a"], ["SET", "{p}a", "2", "NX"], ["SET", "{p}a", "3", "XX"], ["GET", "{p}a"],
     ["SET", "{p}b", "x", "XX"], ["GET", "{p}b"], ["SET", "{p}a", "4", "GET"], ["SET", "{p}new", "v", "NX", "GET"],
     ["SET", "{p}a", "5", "EX", "100"], ["TTL", "{p}a"], ["SET", "{p}a", "6", "KEEPTTL"], ["TTL", "{p}a"],
     ["SET", "{p}a", "7"], ["TTL", "{p}a"], ["SET", "{p}a", "8", "PX", "100000"], ["PTTL", "{p}a"],
     ["SET", "{p}a", "9", "EX", "0"], ["SET", "{p}a", "9", "EX", "x"], ["SET", "{p}a", "9", "NX", "XX"],
     ["SET", "{p}a", "9", "EX", "10", "PX", "10"], ["SET", "{p}a", "9", "BOGUS"], ["SET", "{p}a"],
     ["SETNX", "{p}a", "z"], ["SETNX", "{p}c", "z"], ["SETEX", "{p}d", "100", "v"], ["TTL", "{p}d"],
     ["SETEX", "{p}d", "0", "v"], ["PSETEX", "{p}e", "100000", "v"], ["PTTL", "{p}e"], ["GETDEL", "{p}e"],
     ["GETDEL", "{p}e"], ["GETEX", "{p}d", "PERSIST"], ["TTL", "{p}d"], ["GETEX", "{p}d", "EX", "50"], ["TTL", "{p}d"],
     ["GETEX", "{p}missing"], ["MGET", "{p}a", "{p}missing", "{p}c"], ["SET", "{p}bin", b"\x00\xff\r\n"],
     ["GET", "{p}bin"], ["SET", "{p}empty", ""], ["GET", "{p}empty"], ["EXISTS", "{p}empty"]],
    # Keys: DEL, EXISTS, TYPE, expiry commands, RENAME.
    [["SET", "{p}k", "v"], ["HSET", "{p}h", "f", "1"], ["EXISTS", "{p}k", "{p}h", "{p}none", "{p}k"],
     ["TYPE", "{p}k"], ["TYPE", "{p}h"], ["TYPE", "{p}none"], ["EXPIRE", "{p}k", "100"], ["TTL", "{p}k"],
     ["EXPIRE", "{p}k", "200", "NX"], ["EXPIRE", "{p}k", "200", "XX"], ["TTL", "{p}k"],
     ["EXPIRE", "{p}k", "50", "GT"], ["EXPIRE", "{p}k", "50", "LT"], ["TTL", "{p}k"],
     ["EXPIRE", "{p}k", "1", "NX", "XX"], ["EXPIRE", "{p}k", "1", "GT", "LT"], ["EXPIRE", "{p}k", "x"],
     ["EXPIRE", "{p}k", "01"], ["EXPIRE", "{p}k", "-0"], ["SET", "{p}k", "v", "EX", "010"], ["TTL", "{p}k"],
     ["PERSIST", "{p}k"], ["PERSIST", "{p}k"], ["TTL", "{p}k"], ["PEXPIRE", "{p}k", "100000"], ["PTTL", "{p}k"],
     ["EXPIRE", "{p}none", "10"], ["TTL", "{p}none"], ["PTTL", "{p}none"], ["EXPIREAT", "{p}k", "1"],
     ["EXISTS", "{p}k"], ["SET", "{p}k", "v"], ["PEXPIREAT", "{p}k", "99999999999999"], ["TTL", "{p}k"],
     ["RENAME", "{p}k", "{p}k2"], ["GET", "{p}k"], ["GET", "{p}k2"], ["TTL", "{p}k2"], ["RENAME", "{p}none", "{p}x"],
     ["RENAME", "{p}h", "{p}h2"], ["HGETALL", "{p}h2"], ["RENAME", "{p}h2", "{p}h2"], ["EXISTS", "{p}h2"],
     ["DEL", "{p}k2", "{p}h2", "{p}none"], ["DEL", "{p}k2"], ["UNLINK", "{p}k2"]],
    # Hashes and WRONGTYPE.
    [["HSET", "{p}h", "a", "1", "b", "2"], ["HSET", "{p}h", "a", "3", "c", "4"], ["HGET", "{p}h", "a"],
     ["HGET", "{p}h", "zz"], ["HMGET", "{p}h", "a", "zz", "c"], ["HGETALL", "{p}h"], ["HLEN", "{p}h"],
     ["HKEYS", "{p}h"], ["HVALS", "{p}h"], ["HEXISTS", "{p}h", "b"], ["HEXISTS", "{p}h", "zz"],
     ["HSETNX", "{p}h", "a", "9"], ["HSETNX", "{p}h", "d", "9"], ["HMSET", "{p}h", "e", "5"], ["HDEL", "{p}h", "a", "zz"],
     ["HLEN", "{p}h"], ["HSET", "{p}h", "odd"], ["HGETALL", "{p}missing"], ["HLEN", "{p}missing"],
     ["HMGET", "{p}missing", "a"], ["HDEL", "{p}h", "b", "c", "d", "e"], ["EXISTS", "{p}h"], ["SET", "{p}s", "v"],
     ["HSET", "{p}s", "a", "1"], ["HGET", "{p}s", "a"], ["HGETALL", "{p}s"], ["GET", "{p}h"], ["HSET", "{p}h", "f", "v"],
     ["GET", "{p}h"], ["GETDEL", "{p}h"], ["SET", "{p}h", "now a string"], ["GET", "{p}h"], ["TYPE", "{p}h"],
     ["HSET", "{p}bin", b"\xff\x00", b"\x01"], ["HGETALL", "{p}bin"], ["DEL", "{p}s", "{p}h", "{p}bin"],
     # Field names are bytes: two spellings of one Unicode character are two fields.
     ["HSET", "{p}u", "\u00e9", "1"], ["HSET", "{p}u", "e\u0301", "2"], ["HSET", "{p}u", "\u2126", "3"],
     ["HSET", "{p}u", "\u03a9", "4"], ["HLEN", "{p}u"], ["HGETALL", "{p}u"], ["HGET", "{p}u", "e\u0301"],
     ["HDEL", "{p}u", "\u00e9"], ["HGETALL", "{p}u"], ["DEL", "{p}u"]],
    # Connection commands and errors.
    [["PING"], ["PING", "hello"], ["PING", "a", "b"], ["ECHO", "x"], ["SELECT", "0"], ["SELECT", "1"],
     ["SELECT", "x"], ["CLIENT", "SETNAME", "my-app"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "bad name"],
     ["CLIENT", "NOPE"],
     ["AUTH", "secret"], ["AUTH", "default", "anything"], ["AUTH", "bob", "x"], ["NOSUCHCOMMAND", "a", "b"],
     ["WAIT", "0", "abc"], ["WAIT", "x", "0"], ["WAIT", "0", "-1"], ["WAIT", "0", "0"], ["WAIT", "1", "10"],
     ["GET"], ["HELLO", "4"], ["CONFIG", "GET", "databases"],
     ["MULTI"], ["SET", "{p}m", "1"], ["GET", "{p}m"], ["HSET", "{p}m", "f", "1"], ["EXEC"], ["EXEC"], ["DISCARD"],
     ["MULTI"], ["MULTI"], ["DISCARD"], ["MULTI"], ["SET", "{p}m"], ["EXEC"], ["GET", "{p}m"],
     ["MULTI"], ["SETNX", "{p}lock", "1"], ["EXPIRE", "{p}lock", "100"], ["TTL", "{p}lock"], ["EXEC"],
     ["DEL", "{p}m", "{p}lock"]],
]


def run_sequence(client, sequence, prefix):
    replies = []
    for command in sequence:
        args = [a.replace("{p}", prefix) if isinstance(a, str) else a for a in command]
        replies.append(client.call(*args))
    return replies


def normalise(command, reply):
    """What must match exactly: TTLs to the second, PTTLs to a second, sets of fields in any order."""
    name = command[0].upper()
    if name in ("HGETALL",) and isinstance(reply, list):
        return ("pairs", sorted(zip(reply[0::2], reply[1::2])))
    if name in ("HGETALL",) and isinstance(reply, dict):
        return ("pairs", sorted(reply.items()))
    if name in ("HKEYS", "HVALS", "KEYS") and isinstance(reply, list):
        return sorted(reply)
    return reply


def same(command, want, got):
    """Equal, but a positive TTL within a second (the two servers read their clocks moments apart)."""
    name = command[0].upper()
    if name in ("TTL", "PTTL") and isinstance(want, int) and isinstance(got, int) and want > 0 and got > 0:
        return abs(want - got) <= (1 if name == "TTL" else 1000)
    if name == "EXEC" and isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return all(same(["TTL" if isinstance(w, int) and w > 2 else "?"], w, g) for w, g in zip(want, got))
    return normalise(command, want) == normalise(command, got)


def scenario():
    server = shutil.which("redis-server")
    if not server:
        raise SkipScenario("redis-server not installed (Debian package redis-server)")
    (redis_port,) = free_ports(1)
    redis = subprocess.Popen([server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--databases", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Cluster(1, redis=True) as cluster:
            cluster.start_all()
            deadline = time.time() + 10
            while True:
                try:
                    reference = Resp(("127.0.0.1", redis_port))
                    break
                except OSError:
                    if time.time() > deadline:
                        raise AssertionError("redis-server did not start")
                    time.sleep(0.05)
            node = Resp(cluster.redis["n1"])
            reference.call("FLUSHALL")
            check(node.call("DBSIZE") == reference.call("DBSIZE") == 0, "both start empty")
            compared = 0
            for version in (2, 3):
                if version == 3:
                    a, b = reference.call("HELLO", "3"), node.call("HELLO", "3")
                    check(isinstance(b, dict) and b.get(b"proto") == 3, "HELLO 3 answers a map: %r" % b)
                    check(sorted(a) == sorted(b), "HELLO 3 keys: redis %r, node %r" % (sorted(a), sorted(b)))
                for index, sequence in enumerate(SEQUENCES):
                    prefix = "d%d:%d:" % (version, index)
                    expected = run_sequence(reference, sequence, prefix)
                    actual = run_sequence(node, sequence, prefix)
                    for command, want, got in zip(sequence, expected, actual):
                        compared += 1
                        if not same(command, want, got):
                            raise AssertionError("RESP%d %s: redis answered %r, the node %r"
                                                 % (version, " ".join(map(str, command)), want, got))
                # KEYS and SCAN see the same keys (after the sequences above, only these).
                for client in (reference, node):
                    client.call("SET", "scan:1", "a")
                    client.call("HSET", "scan:2", "f", "v")
                check(sorted(node.call("KEYS", "scan:*")) == sorted(reference.call("KEYS", "scan:*")) ==
                      [b"scan:1", b"scan:2"], "KEYS scan:*")
                seen, cursor = set(), b"0"
                for _ in range(1000):
                    cursor, keys = node.call("SCAN", cursor, "MATCH", "scan:*", "COUNT", "3")
                    seen.update(keys)
                    if cursor == b"0":
                        break
                check(seen == {b"scan:1", b"scan:2"}, "SCAN visits every key: %r" % seen)
                check(node.call("SCAN", "0", "TYPE", "hash", "COUNT", "1000")[1] == [b"scan:2"], "SCAN TYPE hash")
                check(node.call("DBSIZE") == reference.call("DBSIZE"), "DBSIZE")
                for client in (reference, node):
                    client.call("DEL", "scan:1", "scan:2")
            # CLIENT SETINFO is Redis 7.2's (Debian's redis-server is 7.0): redis-py sends it, so the node takes it.
            check(node.call("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == "OK", "CLIENT SETINFO")
            info = node.call("INFO")
            check(isinstance(info, bytes) and b"redis_version:" in info and b"loading:0" in info
                  and b"# Keyspace" in info, "INFO carries what clients read")
            check(node.call("DBSIZE") == reference.call("DBSIZE"), "DBSIZE at the end")
            # A protocol error closes that connection only, with Redis's words.
            bad = Resp(cluster.redis["n1"])
            bad.send_raw(b"*1\r\n$x\r\n")
            check(bad.read() == RespError("ERR Protocol error: invalid bulk length"), "protocol error")
            check(node.call("PING") == "PONG", "the others are served on")
            # Inline commands, as telnet sends them.
            inline = Resp(cluster.redis["n1"])
            inline.send_raw(b'SET inline "a b"\r\nGET inline\r\n')
            check([inline.read(), inline.read()] == ["OK", b"a b"], "inline commands")
            node.call("DEL", "inline")
            say("%d answers compared with redis-server %s, all equal" % (
                compared, reference.call("INFO", "server").split(b"redis_version:")[1].split(b"\r\n")[0].decode()))
    finally:
        redis.terminate()
        redis.wait(10)


if __name__ == "__main__":
    main(scenario)
