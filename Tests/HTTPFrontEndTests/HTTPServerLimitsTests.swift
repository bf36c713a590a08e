import Foundation
import HTTPFrontEnd
import Synchronization
import Testing

/// The server's connection cap, deadlines and descriptor hygiene, over real sockets on 127.0.0.1.
@Suite(.serialized) struct HTTPServerLimitsTests {
    static func start(_ adjust: (inout HTTPServerSettings) -> Void = { _ in }) throws -> (HTTPServer, UInt16) {
        var settings = HTTPServerSettings()
        adjust(&settings)
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, settings: settings) { request in
            if request.path == "/slow" { try? await Task.sleep(for: .milliseconds(300)) }
            return .text(200, "ok\n")
        }
        let port = UInt16(server.address.split(separator: ":").last!)!
        return (server, port)
    }

    static let get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"

    static func waitUntil(_ seconds: Double = 3, _ condition: () async -> Bool) async -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    /// Over the cap with every connection busy (a head partly received), the newcomer reads 503 and then EOF —
    /// before, the 503 was never sent and the socket stayed in CLOSE-WAIT.
    @Test func overTheCapTheNewcomerReads503ThenEOF() async throws {
        let (server, port) = try Self.start { $0.maxConnections = 2 }
        let busy = try (0..<2).map { _ in try RawSocket(port: port) }
        for socket in busy { socket.send("GET / HTTP/1.1\r\n") }  // partial heads: not idle
        #expect(await Self.waitUntil { await server.stats().open == 2 })
        let late = try RawSocket(port: port)
        let answer = await offPool { late.readToEnd() }
        #expect(answer.text.hasPrefix("HTTP/1.1 503"))
        #expect(answer.eof)
        #expect(await server.stats().rejected == 1)
        for socket in busy {
            socket.send("\r\n")
            #expect(await offPool { socket.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        }
        await server.stop()
    }

    /// At the cap, an idle keep-alive connection makes room: the longest idle is closed, the newcomer served.
    @Test func atTheCapTheLongestIdleConnectionMakesRoom() async throws {
        let (server, port) = try Self.start { $0.maxConnections = 2 }
        let oldest = try RawSocket(port: port)
        oldest.send(Self.get)
        #expect(await offPool { oldest.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        try await Task.sleep(for: .milliseconds(20))
        let younger = try RawSocket(port: port)
        younger.send(Self.get)
        #expect(await offPool { younger.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        let newcomer = try RawSocket(port: port)
        newcomer.send(Self.get)
        #expect(await offPool { newcomer.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        #expect(await offPool { oldest.readToEnd() } == ("", true))
        younger.send(Self.get)
        #expect(await offPool { younger.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        #expect(await server.stats().evicted == 1)
        await server.stop()
    }

    @Test func anIdleConnectionIsClosedSilentlyAfterTheIdleTimeout() async throws {
        let (server, port) = try Self.start { $0.idleTimeoutMillis = 200 }
        let socket = try RawSocket(port: port)
        socket.send(Self.get)
        #expect(await offPool { socket.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        let start = Date()
        #expect(await offPool { socket.readToEnd() } == ("", true))
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(await server.stats().idleTimeouts == 1)
        await server.stop()
    }

    /// A head trickled a byte at a time is answered 408 when the header timeout has passed since its FIRST byte.
    @Test func aTrickledHeadGets408AfterTheHeaderTimeout() async throws {
        let (server, port) = try Self.start { $0.headerTimeoutMillis = 400 }
        let socket = try RawSocket(port: port)
        let start = Date()
        let trickle = Task {
            for byte in "GET / HTTP/1.1\r\nHost: slow-loris-slow-loris\r\n".map(String.init) {
                socket.send(byte)
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let answer = await offPool { socket.readToEnd() }
        trickle.cancel()
        #expect(answer.text.hasPrefix("HTTP/1.1 408"))
        #expect(answer.eof)
        #expect(Date().timeIntervalSince(start) < 1.5)
        #expect(await server.stats().headerTimeouts == 1)
        await server.stop()
    }

    @Test func aBodyThatStopsComingGets408AfterTheBodyTimeout() async throws {
        let (server, port) = try Self.start { $0.bodyTimeoutMillis = 300 }
        let socket = try RawSocket(port: port)
        socket.send("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        let answer = await offPool { socket.readToEnd() }
        #expect(answer.text.hasPrefix("HTTP/1.1 408") && answer.eof)
        #expect(await server.stats().bodyTimeouts == 1)
        await server.stop()
    }

    /// A request that runs long is not timed out (no deadline while it runs), and a keep-alive answer follows.
    @Test func aRunningRequestHasNoDeadline() async throws {
        let (server, port) = try Self.start {
            $0.headerTimeoutMillis = 100
            $0.idleTimeoutMillis = 100
        }
        let socket = try RawSocket(port: port)
        socket.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(await offPool { socket.read(until: "ok\n") }.hasPrefix("HTTP/1.1 200"))
        await server.stop()
    }

    /// While a request runs, the server reads nothing more from its connection: pipelined bytes wait in the
    /// kernel (before, they were all read into the parser's buffer, however many).
    @Test func aConnectionIsNotReadWhileItsRequestRuns() async throws {
        let (server, port) = try Self.start()
        let socket = try RawSocket(port: port)
        let pipelined = String(repeating: Self.get, count: 2_000)  // 56 KB
        socket.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        try await Task.sleep(for: .milliseconds(50))
        socket.send(pipelined)
        try await Task.sleep(for: .milliseconds(100))
        let waiting = RawSocket.unreadBytes(port: port)
        #expect(waiting >= pipelined.utf8.count / 2, "only \(waiting) bytes left unread while /slow ran")
        // Once /slow is answered, reading resumes and every pipelined request is answered too.
        let all = await offPool { socket.read(until: String(repeating: "ok\n", count: 1)) }
        #expect(all.hasPrefix("HTTP/1.1 200"))
        #expect(await Self.waitUntil { RawSocket.unreadBytes(port: port) == 0 })
        await server.stop()
    }

    /// Every socket — served, rejected over the cap, timed out, closed by the client — gives its descriptor back.
    @Test func descriptorsReturnToTheBaseline() async throws {
        let (server, port) = try Self.start {
            $0.maxConnections = 10
            $0.headerTimeoutMillis = 300
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(RawSocket.serverSockets(port: port) == 0)
        var sockets: [RawSocket] = []
        for index in 0..<30 {
            let socket = try RawSocket(port: port)
            socket.send(index % 2 == 0 ? "GET / HT" : Self.get)
            sockets.append(socket)
        }
        for socket in sockets.suffix(5) { _ = await offPool { socket.readToEnd() } }
        let during = await server.stats()
        #expect(RawSocket.serverSockets(port: port) > 0, "\(during)")
        sockets = []
        #expect(
            await Self.waitUntil(5) {
                let stats = await server.stats()
                return stats.open == 0 && RawSocket.serverSockets(port: port) == 0
            })
        #expect(RawSocket.serverSockets(port: port) == 0)
        await server.stop()
    }
}
