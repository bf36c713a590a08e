import Foundation
import HTTPFrontEnd
import SessionCluster
import Synchronization
import TestSupport
import Testing

/// The server's connection cap, deadlines, back-pressure and descriptor hygiene, over real sockets on 127.0.0.1.
///
/// The server runs on a loop of its own with a callback handler, and each test's timed socket choreography runs
/// on a thread of its own (`onOwnThread`): neither depends on the cooperative pool, which other suites of the same
/// process may keep busy for seconds.
@Suite(.serialized) struct HTTPServerLimitsTests {
    /// A running server and its loop.
    struct Running {
        let server: HTTPServer
        let loop: EventLoop
        let port: UInt16

        func stop() async {
            await server.stop()
            await loop.stop()
        }
    }

    /// Answers `ok` at once, or after 300 ms for `/slow`.
    static func start(_ adjust: (inout HTTPServerSettings) -> Void = { _ in }) throws -> Running {
        var settings = HTTPServerSettings()
        adjust(&settings)
        let loop = try EventLoop(name: "http-limits-test")
        loop.start()
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, settings: settings, on: loop) {
            request, respond in
            if request.path == "/slow" {
                loop.schedule(afterMillis: 300) { respond(.text(200, "ok\n")) }
            } else {
                respond(.text(200, "ok\n"))
            }
        }
        return Running(server: server, loop: loop, port: UInt16(server.address.split(separator: ":").last!)!)
    }

    static let get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"

    /// Polls `condition` on the calling thread for up to `seconds`.
    static func poll(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// Over the cap with every connection busy (a head partly received), the newcomer reads 503 and then EOF —
    /// before, the 503 was never sent and the socket stayed in CLOSE-WAIT.
    @Test func overTheCapTheNewcomerReads503ThenEOF() async throws {
        let running = try Self.start { $0.maxConnections = 2 }
        let port = running.port
        let outcome = await onOwnThread { () -> (late: (String, Bool), busy: [String]) in
            guard let busy = try? (0..<2).map({ _ in try RawSocket(port: port) }) else { return (("", false), []) }
            for socket in busy { socket.send("GET / HTTP/1.1\r\n") }  // partial heads: not idle
            _ = Self.poll { RawSocket.unreadBytes(port: port) == 0 && RawSocket.serverSockets(port: port) == 2 }
            guard let late = try? RawSocket(port: port) else { return (("", false), []) }
            let answer = late.readToEnd()
            return (answer, busy.map { socket in
                socket.send("Host: t\r\n\r\n")
                return socket.read(until: "ok\n")
            })
        }
        #expect(outcome.late.0.hasPrefix("HTTP/1.1 503"))
        #expect(outcome.late.1)  // EOF after the answer
        #expect(outcome.busy.count == 2 && outcome.busy.allSatisfy { $0.hasPrefix("HTTP/1.1 200") })
        #expect(await running.server.stats().rejected == 1)
        await running.stop()
    }

    /// At the cap, an idle keep-alive connection makes room: the longest idle is closed, the newcomer served.
    @Test func atTheCapTheLongestIdleConnectionMakesRoom() async throws {
        let running = try Self.start { $0.maxConnections = 2 }
        let port = running.port
        let answers = await onOwnThread { () -> [String] in
            guard let oldest = try? RawSocket(port: port), let younger = try? RawSocket(port: port) else { return [] }
            oldest.send(Self.get)
            let first = oldest.read(until: "ok\n")
            usleep(20_000)
            younger.send(Self.get)
            let second = younger.read(until: "ok\n")
            usleep(20_000)
            guard let newcomer = try? RawSocket(port: port) else { return [] }
            newcomer.send(Self.get)
            let third = newcomer.read(until: "ok\n")
            let closed = oldest.readToEnd() == ("", true) ? "closed" : "open"  // closed by the server
            younger.send(Self.get)
            return [first, second, third, closed, younger.read(until: "ok\n")]
        }
        #expect(answers.count == 5)
        #expect(answers.filter { $0.hasPrefix("HTTP/1.1 200") }.count == 4 && answers.contains("closed"))
        #expect(await running.server.stats().evicted == 1)
        await running.stop()
    }

    @Test func anIdleConnectionIsClosedSilentlyAfterTheIdleTimeout() async throws {
        let running = try Self.start { $0.idleTimeoutMillis = 200 }
        let port = running.port
        let outcome = await onOwnThread { () -> (String, (String, Bool), Double) in
            guard let socket = try? RawSocket(port: port) else { return ("", ("", false), 0) }
            socket.send(Self.get)
            let answer = socket.read(until: "ok\n")
            let start = Date()
            return (answer, socket.readToEnd(), Date().timeIntervalSince(start))
        }
        #expect(outcome.0.hasPrefix("HTTP/1.1 200"))
        #expect(outcome.1 == ("", true))
        #expect(outcome.2 < 2)
        #expect(await running.server.stats().idleTimeouts == 1)
        await running.stop()
    }

    /// A head trickled a byte at a time is answered 408 when the header timeout has passed since its FIRST byte.
    @Test func aTrickledHeadGets408AfterTheHeaderTimeout() async throws {
        let running = try Self.start { $0.headerTimeoutMillis = 400 }
        let port = running.port
        let outcome = await onOwnThread { () -> ((String, Bool), Double) in
            guard let socket = try? RawSocket(port: port) else { return (("", false), 0) }
            let start = Date()
            Thread {
                for byte in "GET / HTTP/1.1\r\nHost: slow-loris-slow-loris\r\n".utf8 {
                    socket.send(String(decoding: [byte], as: UTF8.self))
                    usleep(50_000)
                }
            }.start()
            return (socket.readToEnd(), Date().timeIntervalSince(start))
        }
        #expect(outcome.0.0.hasPrefix("HTTP/1.1 408") && outcome.0.1)
        // Renewed per byte, the deadline would not pass before the trickle ends (2.3 s) plus 400 ms.
        #expect(outcome.1 < 2)
        #expect(await running.server.stats().headerTimeouts == 1)
        await running.stop()
    }

    @Test func aBodyThatStopsComingGets408AfterTheBodyTimeout() async throws {
        let running = try Self.start { $0.bodyTimeoutMillis = 300 }
        let port = running.port
        let answer = await onOwnThread { () -> (String, Bool) in
            guard let socket = try? RawSocket(port: port) else { return ("", false) }
            socket.send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            return socket.readToEnd()
        }
        #expect(answer.0.hasPrefix("HTTP/1.1 408") && answer.1)
        #expect(await running.server.stats().bodyTimeouts == 1)
        await running.stop()
    }

    /// A request that runs long is not timed out (no deadline while it runs), and a keep-alive answer follows.
    @Test func aRunningRequestHasNoDeadline() async throws {
        let running = try Self.start {
            $0.headerTimeoutMillis = 100
            $0.idleTimeoutMillis = 100
        }
        let port = running.port
        let answer = await onOwnThread { () -> String in
            guard let socket = try? RawSocket(port: port) else { return "" }
            socket.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            return socket.read(until: "ok\n")
        }
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        await running.stop()
    }

    /// While a request runs, the server reads nothing more from its connection: pipelined bytes wait in the
    /// kernel (before, they were all read into the parser's buffer, however many).
    @Test func aConnectionIsNotReadWhileItsRequestRuns() async throws {
        let running = try Self.start()
        let port = running.port
        let pipelined = String(repeating: Self.get, count: 2_000)  // 56 KB
        let outcome = await onOwnThread { () -> (Int, String, Bool) in
            guard let socket = try? RawSocket(port: port) else { return (0, "", false) }
            socket.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            usleep(50_000)
            socket.send(pipelined)
            usleep(100_000)
            let waiting = RawSocket.unreadBytes(port: port)
            // Once /slow is answered, reading resumes and the pipelined requests are answered too.
            let answer = socket.read(until: "ok\n")
            return (waiting, answer, Self.poll { RawSocket.unreadBytes(port: port) == 0 })
        }
        #expect(outcome.0 >= pipelined.utf8.count / 2, "only \(outcome.0) bytes left unread while /slow ran")
        #expect(outcome.1.hasPrefix("HTTP/1.1 200") && outcome.2)
        await running.stop()
    }

    /// Every socket — served, rejected over the cap, timed out, closed by the client — gives its descriptor back.
    @Test func descriptorsReturnToTheBaseline() async throws {
        let running = try Self.start {
            $0.maxConnections = 10
            $0.headerTimeoutMillis = 300
        }
        let port = running.port
        let counts = await onOwnThread { () -> (before: Int, during: Int, after: Int) in
            let before = RawSocket.serverSockets(port: port)
            var sockets: [RawSocket] = []
            for index in 0..<30 {
                guard let socket = try? RawSocket(port: port, timeoutMillis: 1_000) else { continue }
                socket.send(index % 2 == 0 ? "GET / HT" : Self.get)
                sockets.append(socket)
            }
            for socket in sockets.suffix(5) { _ = socket.readToEnd() }  // the idle ones stay open: short reads
            let during = RawSocket.serverSockets(port: port)
            sockets = []
            _ = Self.poll(5) { RawSocket.serverSockets(port: port) == 0 }
            return (before, during, RawSocket.serverSockets(port: port))
        }
        #expect(counts.before == 0 && counts.during > 0, "\(counts)")
        #expect(counts.after == 0, "\(counts)")
        #expect(await running.server.stats().open == 0)
        await running.stop()
    }
}
