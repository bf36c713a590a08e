import Foundation
import HTTPFrontEnd
import RESPFrontEnd
import SessionCluster
import TestSupport
import Testing

/// The RESP server on a real node over real sockets: pipelining, authentication, errors that close one
/// connection only, a `MULTI` block as one delta, and keys kept apart from HTTP sessions.
@Suite(.serialized) struct RESPServerTests {
    struct Running {
        let node: ClusterNode
        let server: RESPServer
        let port: UInt16

        func stop() async {
            await server.stop()
            await node.shutdown()
        }
    }

    static func start(
        password: String? = nil, retentionMillis: Int64? = nil, maxSessions: Int? = nil,
        adjust: (inout RESPServerSettings) -> Void = { _ in },
        node adjustNode: (inout ClusterNodeSettings) -> Void = { _ in }
    ) async throws -> Running {
        var settings = ClusterNodeSettings(cluster: "resp-test", name: "n1")
        settings.secret = "resp server test secret of at least thirty-two bytes"
        settings.multicast = nil
        settings.loops = TestLoops.count
        if let maxSessions { settings.maxSessions = maxSessions }
        adjustNode(&settings)
        if let retentionMillis {
            settings.replication.tombstoneRetentionMillis = retentionMillis
            settings.replication.sweepIntervalMillis = 100
        }
        let node = try await ClusterNode.start(settings)
        var serverSettings = RESPServerSettings(password: password)
        adjust(&serverSettings)
        let server = try RESPServer.start(host: "127.0.0.1", port: 0, node: node, settings: serverSettings)
        return Running(node: node, server: server, port: UInt16(server.address.split(separator: ":").last!)!)
    }

    static func command(_ args: String...) -> [UInt8] { command(args) }

    static func command(_ args: [String]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for arg in args { out += Array("$\(arg.utf8.count)\r\n\(arg)\r\n".utf8) }
        return out
    }

    @Test func aThousandPipelinedCommandsAreAnsweredInOrder() async throws {
        let running = try await Self.start()
        let port = running.port
        let answers = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            var batch = [UInt8]()
            for index in 0..<1_000 { batch += Self.command("SET", "k\(index % 10)", "v\(index)") }
            batch += Self.command("GET", "k9")
            batch += Self.command("ECHO", "end")
            socket.send(batch)
            return socket.read(until: "$3\r\nend\r\n")
        }
        #expect(answers == String(repeating: "+OK\r\n", count: 1_000) + "$4\r\nv999\r\n$3\r\nend\r\n")
        await running.stop()
    }

    @Test func aPasswordIsAskedBeforeAnythingElse() async throws {
        let running = try await Self.start(password: "s3cret")
        let port = running.port
        let answers = try await onOwnThread { () throws -> [String] in
            let socket = try RawSocket(port: port)
            var seen = [String]()
            for (command, until) in [
                (Self.command("GET", "k"), "\r\n"), (Self.command("AUTH", "wrong"), "\r\n"),
                (Self.command("HELLO", "3"), "\r\n"), (Self.command("AUTH", "s3cret"), "\r\n"),
                (Self.command("SET", "k", "v"), "\r\n"),
            ] {
                socket.send(command)
                seen.append(socket.read(until: until))
            }
            let resp3 = try RawSocket(port: port)
            resp3.send(Self.command("HELLO", "3", "AUTH", "default", "s3cret"))
            seen.append(resp3.read(until: "modules"))
            return seen
        }
        #expect(answers[0] == "-NOAUTH Authentication required.\r\n")
        #expect(answers[1] == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(answers[2].hasPrefix("-NOAUTH HELLO must be called with the client already authenticated"))
        #expect(answers[3] == "+OK\r\n")
        #expect(answers[4] == "+OK\r\n")
        #expect(answers[5].hasPrefix("%7\r\n"))
        await running.stop()
    }

    @Test func anUnauthenticatedClientCannotMakeTheNodeBufferMuch() async throws {
        let running = try await Self.start(password: "s3cret")
        let port = running.port
        let outcome = try await onOwnThread { () throws -> (String, Bool) in
            let socket = try RawSocket(port: port)
            socket.send(Array("*2\r\n$4\r\nAUTH\r\n$1000000\r\n".utf8))
            return socket.readToEnd()
        }
        #expect(outcome.0 == "-ERR Protocol error: unauthenticated bulk length\r\n")
        #expect(outcome.1, "the connection is closed")
        await running.stop()
    }

    @Test func aProtocolErrorClosesThatConnectionOnly() async throws {
        let running = try await Self.start()
        let port = running.port
        let outcome = try await onOwnThread { () throws -> (String, Bool, String) in
            let good = try RawSocket(port: port)
            let bad = try RawSocket(port: port)
            bad.send(Array("*1\r\n$x\r\n".utf8))
            let (text, eof) = bad.readToEnd()
            good.send(Self.command("PING"))
            return (text, eof, good.read(until: "\r\n"))
        }
        #expect(outcome.0 == "-ERR Protocol error: invalid bulk length\r\n")
        #expect(outcome.1)
        #expect(outcome.2 == "+PONG\r\n")
        await running.stop()
    }

    @Test func longMultiBlocksAndManyKeyCommandsRunWithoutDeepStacksOrLongTurns() async throws {
        // Each command of a block over several keys completes at once (the copies are here): run by recursion,
        // 10,000 of them overflowed the loop thread's stack (SIGSEGV).
        let running = try await Self.start()
        let port = running.port
        let (block, deleted, probe) = try await onOwnThread { () throws -> (String, String, String) in
            // A debug build under the whole suite in parallel took over 10 s (the default) for the 100,000-key
            // DEL (0.5 s in release): what is checked here is that it answers and never holds a turn long.
            let socket = try RawSocket(port: port, timeoutMillis: 60_000)
            var batch = Self.command("MULTI")
            for index in 0..<10_000 { batch += Self.command("SET", "deep\(index)", "v") }
            socket.send(batch + Self.command("EXEC"))
            let queued = String(repeating: "+QUEUED\r\n", count: 10_000)
            let block = socket.read(
                until: "+OK\r\n" + queued + "*10000\r\n" + String(repeating: "+OK\r\n", count: 10_000))
            var keys = ["DEL"]
            for index in 0..<100_000 { keys.append("deep\(index)") }
            socket.send(Self.command(keys))
            let other = try RawSocket(port: port)
            other.send(Self.command("PING"))
            let probe = other.read(until: "\r\n")
            return (block, socket.read(until: "\r\n"), probe)
        }
        #expect(block.hasSuffix("*10000\r\n" + String(repeating: "+OK\r\n", count: 10_000)))
        #expect(deleted == ":10000\r\n")
        #expect(probe == "+PONG\r\n")
        let stats = await running.node.stats()
        #expect(stats.loopTurns.maxMicros < 2_000_000, "one turn ran \(stats.loopTurns.maxMicros) µs")
        await running.stop()
    }

    /// Commands on a big hash cost its size each: 128 of them per turn, the old budget, held the loop over a
    /// second and peers declared the node dead. A connection now runs none after 2 ms in a turn.
    @Test func aPipelineOfCommandsOnABigHashDoesNotHoldTheLoop() async throws {
        let running = try await Self.start(node: {
            $0.maxAttributesPerSession = 30_000
            $0.maxSessionBytes = 4 << 20
        })
        let port = running.port
        let (created, answers) = try await onOwnThread { () throws -> (String, String) in
            let socket = try RawSocket(port: port, timeoutMillis: 120_000)
            var fields = ["HSET", "big"]
            for index in 0..<10_000 { fields += ["f\(index)", "v"] }
            socket.send(Self.command(fields))
            let created = socket.read(until: "\r\n")
            var pipeline = [UInt8]()
            for index in 0..<200 { pipeline += Self.command("HGET", "big", "f\(index)") }
            socket.send(pipeline)
            return (created, socket.read(until: String(repeating: "$1\r\nv\r\n", count: 200)))
        }
        #expect(created == ":10000\r\n")
        #expect(answers == String(repeating: "$1\r\nv\r\n", count: 200))
        let stats = await running.node.stats()
        // One HGET on 10,000 fields takes milliseconds (tens in a debug build): 128 in a turn took seconds.
        #expect(stats.loopTurns.maxMicros < 1_000_000, "one turn ran \(stats.loopTurns.maxMicros) µs")
        await running.stop()
    }

    /// Each connection bounds its own share of a turn, but sixteen connections each sending one costly command
    /// (a 10 MB `MGET`) at once ran all sixteen in one turn; with fifty, turns of 5 s and peers declaring the node
    /// dead (fresh-eyes finding of 2026-11-29, helper-44). A turn now serves clients for 5 ms at most, plus one
    /// command of a connection put off from an earlier turn.
    @Test func manyConnectionsWithOneCostlyCommandEachDoNotHoldOneTurn() async throws {
        let running = try await Self.start()
        let port = running.port
        let value = String(repeating: "x", count: 100_000)
        let mget = Self.command(["MGET"] + [String](repeating: "big", count: 100))
        let expected = Array(("*100\r\n" + String(repeating: "$100000\r\n\(value)\r\n", count: 100)).utf8)
        let solo = try await onOwnThread { () throws -> [UInt8] in
            let socket = try RawSocket(port: port, timeoutMillis: 60_000)
            socket.send(Self.command("SET", "big", value))
            _ = socket.read(until: "+OK\r\n")
            socket.send(mget)
            return socket.read(count: expected.count)
        }
        #expect(solo == expected)
        let one = await running.node.stats().loopTurns.maxMicros
        let answers = try await onOwnThread { () throws -> [Bool] in
            let sockets = try (0..<16).map { _ in try RawSocket(port: port, timeoutMillis: 60_000) }
            for socket in sockets { socket.send(mget) }
            return sockets.map { $0.read(count: expected.count) == expected }
        }
        #expect(answers == [Bool](repeating: true, count: 16))
        let longest = await running.node.stats().loopTurns.maxMicros
        // Unbounded: about 8 × `one` here (the sixteen arrive over two turns). Bounded: about 1.3 × `one`. On 2
        // loops a command's work is split between the loops by hand-overs, and turns with and without the budget
        // measured alike (60–110 ms against `one` of 10–20 ms): the bound is checked on one loop only.
        if TestLoops.count == 1 {
            #expect(longest < 3 * one + 20_000, "one command's turn \(one) µs, the longest turn \(longest) µs")
        }
        await running.stop()
    }

    /// Each connection that does not read stops at its own share of answers plus one reply, but fifty of them
    /// held 1.7 GB (fresh-eyes finding of 2026-11-29, helper-44). Past the loop's total, a client that is not
    /// reading its answers is closed (counted in `INFO`), and a client that reads is served as before.
    @Test func slowReadersAreClosedOnceTheLoopHoldsTooManyAnswers() async throws {
        let running = try await Self.start(adjust: {
            $0.maxPendingOutputBytes = 1 << 20
            $0.maxTotalPendingOutputBytes = 4 << 20  // per loop: with 2 loops, 4 slow readers each
        })
        let port = running.port
        let (closed, served) = try await onOwnThread { () throws -> (Int, String) in
            let reader = try RawSocket(port: port)
            reader.send(Self.command("SET", "big", String(repeating: "x", count: 200_000)))
            _ = reader.read(until: "+OK\r\n")
            let mget = Self.command(["MGET"] + [String](repeating: "big", count: 10))  // 2 MB each
            let slow = try (0..<8).map { _ in try RawSocket(port: port) }
            for socket in slow { socket.send([UInt8]((0..<10).map { _ in mget }.joined())) }
            var closed = 0
            let deadline = Date().addingTimeInterval(10)
            while closed == 0 && Date() < deadline {
                reader.send(Self.command("INFO", "stats"))
                let info = reader.read(until: "\r\n\r\n")  // one section: the end of the text and of the bulk
                let figure = info.components(separatedBy: "client_output_buffer_limit_disconnections:").dropFirst()
                closed = figure.first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
                Thread.sleep(forTimeInterval: 0.05)
            }
            reader.send(Self.command("SET", "small", "ok") + Self.command("GET", "small"))
            return (closed, reader.read(until: "$2\r\nok\r\n"))
        }
        #expect(closed >= 1, "no slow reader was closed")
        #expect(served.hasSuffix("+OK\r\n$2\r\nok\r\n"), "\(served.suffix(100))")
        await running.stop()
    }

    @Test func aValueOverTheLimitIsRefusedAndTheConnectionGoesOn() async throws {
        let running = try await Self.start { $0.limits.maxBulkBytes = 1_000 }
        let port = running.port
        let answers = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            socket.send(Self.command("SET", "big", String(repeating: "x", count: 5_000)))
            socket.send(Self.command("SET", "small", "ok"))
            socket.send(Self.command("MULTI") + Self.command("SET", "big", String(repeating: "x", count: 5_000)))
            socket.send(Self.command("EXEC") + Self.command("EXISTS", "big") + Self.command("GET", "small"))
            return socket.read(until: "$2\r\nok\r\n")
        }
        let refused =
            "-ERR argument of 5000 bytes is over this node's limit of 1000 bytes per value "
            + "(sessions.maxSessionBytes)\r\n"
        #expect(
            answers
                == refused + "+OK\r\n+OK\r\n" + refused
                + "-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n$2\r\nok\r\n")
        await running.stop()
    }

    /// A reply of many values is measured as it is built: past 32 MiB the command answers an error and the
    /// connection goes on; a `MULTI` block's writes are applied all the same. One `MGET` naming a 200 KB key a
    /// thousand times (12 KB sent) built 400 MB before the connection's 64 MiB output cap dropped the reply unsent,
    /// and a million times would have taken the node's memory (fresh-eyes finding of 2026-11-29).
    @Test func aReplyOverTheLimitIsAnErrorNotAnOutOfMemory() async throws {
        let running = try await Self.start()
        let port = running.port
        let answers = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            socket.send(Self.command("SET", "big", String(repeating: "x", count: 200_000)))
            _ = socket.read(until: "+OK\r\n")
            let many = [String](repeating: "big", count: 400)  // 80 MB of answers
            let reads = many.map { Self.command("GET", $0) }.reduce([], +)
            socket.send(Self.command(["MGET"] + many))
            socket.send(Self.command("MULTI") + Self.command("SET", "written", "yes") + reads + Self.command("EXEC"))
            socket.send(Self.command("MULTI") + reads + Self.command("EXEC"))  // one key: the block is one write
            socket.send(Self.command("MGET", "written", "written") + Self.command("PING"))
            return socket.read(until: "+PONG\r\n")
        }
        #expect(answers.hasPrefix("-ERR MGET reply too large: over 32 MiB"), "\(answers.prefix(200))")
        #expect(
            answers.components(separatedBy: "-ERR EXEC reply too large: over 32 MiB").count == 3,
            "both blocks answer the error")
        #expect(answers.contains("its writes were applied, its reply not sent"))
        #expect(answers.hasSuffix("*2\r\n$3\r\nyes\r\n$3\r\nyes\r\n+PONG\r\n"), "\(answers.suffix(200))")
        await running.stop()
    }

    /// `HMGET`, `KEYS` and `SCAN` measure their replies too. An `HMGET` naming a 256 KB field 300 times (a 77 MB
    /// reply) went over the connection's 64 MiB output cap, which closed the stream from inside the command, and
    /// the connection then read itself after the server had let go of it: the node aborted (fresh-eyes finding of
    /// 2026-11-29, helper-44). Now each answers an error, and the connection goes on.
    @Test func manyValuedRepliesOverTheLimitAreErrorsAndTheNodeLives() async throws {
        let running = try await Self.start(node: {
            $0.maxSessionBytes = 1 << 20
        })
        let port = running.port
        let answers = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port, timeoutMillis: 60_000)
            let value = String(repeating: "x", count: 256_000)
            socket.send(Self.command("HSET", "h", "f", value))
            _ = socket.read(until: ":1\r\n")
            for index in 0..<150 {
                socket.send(Self.command("SET", String(repeating: "k", count: 240_000) + "\(index)", "v"))
            }
            _ = socket.read(until: String(repeating: "+OK\r\n", count: 150))
            socket.send(Self.command(["HMGET", "h"] + [String](repeating: "f", count: 300)))
            socket.send(Self.command("KEYS", "k*"))
            socket.send(Self.command("SCAN", "0", "COUNT", "1000"))
            socket.send(Self.command("HMGET", "h", "f", "nope") + Self.command("PING"))
            return socket.read(until: "+PONG\r\n")
        }
        let lines = answers.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("-ERR HMGET reply too large: over 32 MiB"), "\(lines[0].prefix(200))")
        #expect(lines[1].hasPrefix("-ERR KEYS reply too large: over 32 MiB"), "\(lines[1].prefix(200))")
        #expect(lines[2].hasPrefix("-ERR SCAN reply too large: over 32 MiB"), "\(lines[2].prefix(200))")
        #expect(answers.hasSuffix("*2\r\n$256000\r\n\(String(repeating: "x", count: 256_000))\r\n$-1\r\n+PONG\r\n"))
        await running.stop()
    }

    /// A glob costs up to pattern × key name: a 25,000-byte pattern against a 100,000-byte name held the loop
    /// 6.8 s (fresh-eyes finding, helper-45). `KEYS` and `SCAN … MATCH` take patterns of 512 bytes at most.
    @Test func aPatternOverTheLimitIsRefused() async throws {
        let running = try await Self.start()
        let port = running.port
        let answers = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            let long = String(repeating: "g", count: 513)
            socket.send(Self.command("SET", long, "v"))
            socket.send(Self.command("KEYS", long) + Self.command("SCAN", "0", "MATCH", long))
            socket.send(Self.command("KEYS", String(long.dropFirst())) + Self.command("PING"))
            return socket.read(until: "+PONG\r\n")
        }
        let refused = "-ERR pattern too long: at most 512 bytes\r\n"
        #expect(answers == "+OK\r\n" + refused + refused + "*0\r\n+PONG\r\n")
        await running.stop()
    }

    @Test func aMultiBlockOnOneKeyIsOneDelta() async throws {
        let running = try await Self.start()
        let port = running.port
        let before = await running.node.stats().replication.commits
        let answer = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            socket.send(
                Self.command("MULTI") + Self.command("SETNX", "lock", "1") + Self.command("EXPIRE", "lock", "100")
                    + Self.command("HSET", "lock", "f", "v") + Self.command("EXEC"))
            return socket.read(until: "WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        }
        #expect(
            answer
                == "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:1\r\n:1\r\n"
                + "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        #expect(await running.node.stats().replication.commits == before + 1)
        await running.stop()
    }

    /// Deleted and expired keys leave nothing behind once the retention has passed (before, every key ever
    /// written stayed), and a key written again after that is a key like any other.
    @Test func deletedAndExpiredKeysAreForgottenAndMayBeWrittenAgain() async throws {
        let running = try await Self.start(retentionMillis: 1_000)
        let port = running.port
        let written = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            socket.send(
                Self.command("SET", "short", "v", "PX", "100") + Self.command("HSET", "gone", "f", "v")
                    + Self.command("DEL", "gone") + Self.command("SET", "kept", "v"))
            return socket.read(until: ":1\r\n+OK\r\n")
        }
        #expect(written == "+OK\r\n:1\r\n:1\r\n+OK\r\n")
        #expect(await running.node.stats().copies == 3)
        var copies = 3
        for _ in 0..<100 where copies != 1 {
            try await Task.sleep(for: .milliseconds(100))
            copies = await running.node.stats().copies
        }
        #expect(copies == 1, "only the key that holds something is left")
        #expect(await running.node.stats().replication.emptyPurged == 2)
        let again = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            socket.send(Self.command("SET", "short", "again") + Self.command("GET", "short"))
            return socket.read(until: "again\r\n")
        }
        #expect(again == "+OK\r\n$5\r\nagain\r\n")
        await running.stop()
    }

    /// Distinct keys set and deleted leave emptied sessions for the retention (10 minutes): they no longer count
    /// against `maxSessions`, so new keys and logins are still taken while `DBSIZE` says 0 (before, the sixth key
    /// of each loop here was refused with `OOM`, and so were logins). Every session held still stops at twice the
    /// limit.
    @Test func keysSetAndDeletedDoNotFillTheSessionLimit() async throws {
        // Each loop holds a share of 4 (ceiling 8); the keys are picked so that each loop gets the same number.
        let loops = TestLoops.count
        let running = try await Self.start(maxSessions: 4 * loops)
        let port = running.port
        let node = running.node
        var pool = (0..<10_000).map { "churn\($0)" }.makeIterator()
        func keys(_ perLoop: Int) -> [[String]] {
            var picked = Array(repeating: [String](), count: loops)
            while picked.contains(where: { $0.count < perLoop }), let key = pool.next() {
                let owner = node.eventLoop(for: SessionID(forKey: Array(key.utf8)))
                let loop = node.eventLoops.firstIndex { $0 === owner }!
                if picked[loop].count < perLoop { picked[loop].append(key) }
            }
            return picked
        }
        let churned = keys(6).flatMap { $0 }
        let fresh = keys(1).flatMap { $0 }
        let later = keys(4)
        let (churn, size, set) = try await onOwnThread { () throws -> (String, String, String) in
            let socket = try RawSocket(port: port)
            var batch = [UInt8]()
            for key in churned { batch += Self.command("SET", key, "v") + Self.command("DEL", key) }
            socket.send(batch)
            let churn = socket.read(until: String(repeating: "+OK\r\n:1\r\n", count: churned.count))
            socket.send(Self.command("DBSIZE"))
            let size = socket.read(until: "\r\n")
            var sets = [UInt8]()
            for key in fresh { sets += Self.command("SET", key, "v") }
            socket.send(sets)
            return (churn, size, socket.read(until: String(repeating: "+OK\r\n", count: fresh.count)))
        }
        #expect(churn == String(repeating: "+OK\r\n:1\r\n", count: churned.count))
        #expect(size == ":0\r\n")
        #expect(set == String(repeating: "+OK\r\n", count: fresh.count))
        let login = await SessionRoutes(node: node).handle(
            try HTTPRequest(
                method: "POST", target: "/login",
                headers: [("Host", "t"), ("Content-Type", "application/x-www-form-urlencoded")],
                body: Array("user=alice".utf8)))
        #expect(login.status == 200)
        var stats = await node.stats()
        #expect(stats.sessions == 7 * loops + 1 && stats.emptied == 6 * loops)
        // The ceiling: each loop now holds 7 (8 on the login's), so one more key set and deleted fits on every
        // loop but the login's, and the next is refused.
        let outcome = try await onOwnThread { () throws -> [[String]] in
            let socket = try RawSocket(port: port)
            return later.map { keys in
                var answers = [String]()
                for key in keys {
                    socket.send(Self.command("SET", key, "v"))
                    answers.append(socket.read(until: "\r\n"))
                    guard answers.last == "+OK\r\n" else { break }
                    socket.send(Self.command("DEL", key))
                    _ = socket.read(until: "\r\n")
                }
                return answers
            }
        }
        let accepted = outcome.map { $0.count { $0 == "+OK\r\n" } }
        #expect(accepted.reduce(0, +) == loops - 1, "\(outcome)")
        #expect(accepted.allSatisfy { $0 <= 1 })
        #expect(outcome.allSatisfy { $0.last?.hasPrefix("-OOM") == true }, "\(outcome)")
        stats = await node.stats()
        #expect(stats.sessions == 8 * loops && stats.emptied == 7 * loops - 1)
        await running.stop()
    }

    /// At the cap, clients trickling a command cannot hold their slots forever: past the grace, the oldest one makes
    /// room for a newcomer (with none idle and none past the grace, the newcomer is refused).
    @Test func atTheCapTheOldestTricklerMakesRoom() async throws {
        let running = try await Self.start {
            $0.maxConnections = 2
            $0.incompleteGraceMillis = 300
        }
        let port = running.port
        let outcome = try await onOwnThread { () throws -> (early: String, late: String, first: Bool) in
            let first = try RawSocket(port: port)
            first.send(Array("*2\r\n$3\r\nGET".utf8))
            usleep(50_000)
            let second = try RawSocket(port: port)
            second.send(Array("*2\r\n$3\r\nGET".utf8))
            usleep(50_000)
            let early = try RawSocket(port: port)
            let refused = early.readToEnd().text
            usleep(400_000)
            let late = try RawSocket(port: port)
            late.send(Self.command("PING"))
            let answer = late.read(until: "\r\n")
            // On two loops each holds one of the two slots, and connections go to the loops in turn: the newcomer
            // lands on the second loop, whose trickler (the second) makes room.
            return (refused, answer, (TestLoops.count == 1 ? first : second).readToEnd().eof)
        }
        #expect(outcome.early == "-ERR max number of clients reached\r\n")
        #expect(outcome.late == "+PONG\r\n")
        #expect(outcome.first, "the oldest trickler (of the newcomer's loop) was closed")
        await running.stop()
    }

    @Test func aMultiBlockCannotQueueWithoutBound() async throws {
        let running = try await Self.start { $0.maxQueuedCommands = 3 }
        let port = running.port
        let answer = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            var batch = Self.command("MULTI")
            for index in 0..<4 { batch += Self.command("SET", "k\(index)", "v") }
            socket.send(batch + Self.command("EXEC") + Self.command("GET", "k0"))
            return socket.read(until: "$-1\r\n")
        }
        #expect(
            answer
                == "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n-ERR MULTI block too large (at most 3 commands and 16777216 bytes)\r\n"
                + "-EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n")
        await running.stop()
    }

    /// A browser (or an SSRF) posting to the Redis port: the request's body must not run as commands. Before,
    /// each header line was an unknown command and the body's `SET` was executed.
    @Test func anHTTPRequestToTheRedisPortIsClosedAndRunsNothing() async throws {
        let running = try await Self.start()
        let port = running.port
        let outcome = try await onOwnThread { () throws -> (String, Bool, String) in
            let attacker = try RawSocket(port: port)
            attacker.send(
                "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 24\r\n\r\n\r\nSET pwn viaBrowser\r\nQUIT\r\n")
            let (text, eof) = attacker.readToEnd()
            let check = try RawSocket(port: port)
            check.send(Self.command("GET", "pwn"))
            return (text, eof, check.read(until: "\r\n"))
        }
        #expect(outcome.0 == "", "no answer at all")
        #expect(outcome.1, "closed")
        #expect(outcome.2 == "$-1\r\n", "nothing was written")
        await running.stop()
    }

    /// One client pipelining without end (here 600,000 PINGs in one stream) must not hold the loop: another
    /// client's PING is answered while the flood is being served, and no loop turn is long (128 commands per
    /// connection per turn). Before, whatever had arrived ran in one go: the longest turn was 144 ms for 300,000
    /// PINGs in a debug build (6 ms after), and 50 such clients made peers declare the node dead.
    @Test func aPipeliningFloodDoesNotStarveAnotherClient() async throws {
        let running = try await Self.start()
        let port = running.port
        let outcome = try await onOwnThread { () throws -> (millis: Double, floodAnswered: Int) in
            let flood = try RawSocket(port: port)
            let bytes = Array(String(repeating: "PING\r\n", count: 600_000).utf8)
            let sender = Thread { flood.send(bytes) }
            sender.start()
            usleep(100_000)  // the flood is arriving and being served
            let other = try RawSocket(port: port)
            let start = Date()
            other.send(Self.command("PING"))
            _ = other.read(until: "+PONG\r\n")
            let millis = Date().timeIntervalSince(start) * 1_000
            // Drain some of the flood's answers so the test ends promptly.
            let answered = flood.read(until: String(repeating: "+PONG\r\n", count: 8)).count / 7
            return (millis, answered)
        }
        #expect(outcome.millis < 1_500, "another client waited \(outcome.millis) ms behind a pipelining flood")
        #expect(outcome.floodAnswered >= 8)
        let longest = await running.node.stats().loopTurns.maxMicros
        #expect(longest < 100_000, "a loop turn took \(longest) µs while one client pipelined")
        await running.stop()
    }

    @Test func theHTTPFrontEndRefusesAKeysSession() async throws {
        let running = try await Self.start()
        let port = running.port
        _ = try await onOwnThread { () throws -> String in
            let socket = try RawSocket(port: port)
            socket.send(Self.command("HSET", "session:known-name", "user", "alice"))
            return socket.read(until: "\r\n")
        }
        let id = SessionID(forKey: Array("session:known-name".utf8))
        #expect((try? await running.node.read(id, token: nil))?.attributes["huser"] == Array("alice".utf8))
        let routes = SessionRoutes(node: running.node)
        let request = try HTTPRequest(
            method: "GET", target: "/session", headers: [("Host", "t"), ("Cookie", "SESSIONID=\(id.encoded)")])
        #expect(await routes.handle(request).status == 401)
        await running.stop()
    }
}
