import Foundation
import HTTPFrontEnd
import SessionCluster
import Synchronization
import TestSupport
import Testing

/// The cap policy under a slow-header flood, pipelined answers past the output threshold, and what the server
/// answers to bytes that cannot be HTTP — over real sockets on 127.0.0.1 (see `HTTPServerLimitsTests`).
@Suite(.serialized) struct HTTPServerCapPolicyTests {
    typealias Limits = HTTPServerLimitsTests

    /// Runs `bodies` on threads of their own and waits for all of them.
    static func concurrently(_ bodies: [@Sendable () -> Void]) {
        let group = DispatchGroup()
        for body in bodies {
            group.enter()
            Thread {
                body()
                group.leave()
            }.start()
        }
        group.wait()
    }

    /// A steady stream of partial-head connections at the cap (each renewed less often than the grace, as an
    /// attacker reconnecting ~100/s against 1,024 slots does) no longer locks out clients that complete their
    /// requests promptly: the keep-alive client keeps its connection, the fresh-connection client gets in.
    /// Before, the attacker's newcomers displaced the keep-alive connection (the only idle one) and every
    /// newcomer that found no idle connection was answered 503.
    @Test func slowHeadsAtTheCapGoBeforeClientsThatCompleteTheirRequests() async throws {
        let running = try Limits.start { $0.maxConnections = 16 }
        let port = running.port
        let outcome = await onOwnThread { () -> (keepAlive: [Int], fresh: [Int], attackers: Int) in
            guard let keepAlive = try? RawSocket(port: port, timeoutMillis: 2_000) else { return ([], [], 0) }
            keepAlive.send(Limits.get)
            guard keepAlive.read(until: "ok\n").hasPrefix("HTTP/1.1 200") else { return ([], [], 0) }
            let attackers = Mutex<[RawSocket]>([])
            for _ in 0..<15 {  // the rest of the cap: partial request lines
                guard let socket = try? RawSocket(port: port, timeoutMillis: 2_000) else { continue }
                socket.send("GET / HTTP/1.1\r\n")
                attackers.withLock { $0.append(socket) }
            }
            usleep(1_200_000)  // every partial head is now older than the grace
            let keepAliveAnswers = Mutex<[Int]>([])  // 1: 200 on the same connection, 2: 200 after a reconnect
            let freshAnswers = Mutex<[Int]>([])
            let end = Date().addingTimeInterval(3)
            Self.concurrently([
                {  // attacker: 5 new partial heads a second, never completed
                    while Date() < end {
                        if let socket = try? RawSocket(port: port, timeoutMillis: 2_000) {
                            socket.send("GET / HTTP/1.1\r\n")
                            attackers.withLock { $0.append(socket) }
                        }
                        usleep(200_000)
                    }
                },
                {  // keep-alive client: a request every 100 ms on one connection, reconnecting when it is lost
                    var socket = keepAlive
                    var reconnected = false
                    while Date() < end {
                        socket.send(Limits.get)
                        let answer = socket.read(until: "ok\n")
                        keepAliveAnswers.withLock { $0.append(answer.hasPrefix("HTTP/1.1 200") ? 1 : 0) }
                        if !answer.hasPrefix("HTTP/1.1 200") || reconnected {
                            guard let fresh = try? RawSocket(port: port, timeoutMillis: 2_000) else { break }
                            socket = fresh
                            reconnected = true
                        }
                        usleep(100_000)
                    }
                },
                {  // fresh-connection client: a new connection per request, 5 a second
                    while Date() < end {
                        if let socket = try? RawSocket(port: port, timeoutMillis: 2_000) {
                            socket.send(Limits.get)
                            let answer = socket.read(until: "ok\n")
                            freshAnswers.withLock { $0.append(answer.hasPrefix("HTTP/1.1 200") ? 1 : 0) }
                        }
                        usleep(200_000)
                    }
                },
            ])
            return (keepAliveAnswers.withLock { $0 }, freshAnswers.withLock { $0 }, attackers.withLock { $0.count })
        }
        let stats = await running.server.stats()
        let keepAliveOK = outcome.keepAlive.filter { $0 == 1 }.count
        let freshOK = outcome.fresh.filter { $0 == 1 }.count
        let figures = "keep-alive \(keepAliveOK)/\(outcome.keepAlive.count), fresh \(freshOK)/\(outcome.fresh.count), "
            + "attackers \(outcome.attackers), \(stats)"
        #expect(outcome.keepAlive.count >= 10 && keepAliveOK == outcome.keepAlive.count, "\(figures)")
        #expect(outcome.fresh.count >= 5 && freshOK >= outcome.fresh.count - 1, "\(figures)")
        #expect(stats.evictedIncomplete > 0 && stats.evictedIncomplete == stats.evicted, "\(figures)")
        await running.stop()
    }

    /// A partial head younger than the grace is not displaced (the newcomer reads 503); once older, it is (the
    /// newcomer is served and the partial head's connection closed). Before, a partial head was never displaced.
    @Test func aPartialHeadIsDisplacedOnlyOnceOlderThanTheGrace() async throws {
        let running = try Limits.start {
            $0.maxConnections = 1
            // Long enough that the young newcomer arrives within it even on a loaded machine (400 ms flaked).
            $0.incompleteGraceMillis = 3_000
        }
        let port = running.port
        let outcome = await onOwnThread { () -> (young: String, old: String, partial: (String, Bool)) in
            guard let partial = try? RawSocket(port: port) else { return ("", "", ("", false)) }
            partial.send("GET / HTTP/1.1\r\n")
            _ = Limits.poll { RawSocket.unreadBytes(port: port) == 0 }
            guard let young = try? RawSocket(port: port) else { return ("", "", ("", false)) }
            young.send(Limits.get)
            let youngAnswer = young.readToEnd().text
            usleep(3_200_000)
            guard let old = try? RawSocket(port: port) else { return ("", "", ("", false)) }
            old.send(Limits.get)
            return (youngAnswer, old.read(until: "ok\n"), partial.readToEnd())
        }
        #expect(outcome.young.hasPrefix("HTTP/1.1 503"), "\(outcome)")
        #expect(outcome.old.hasPrefix("HTTP/1.1 200"), "\(outcome)")
        #expect(outcome.partial == ("", true), "\(outcome)")
        let stats = await running.server.stats()
        #expect(stats.rejected == 1 && stats.evictedIncomplete == 1, "\(stats)")
        await running.stop()
    }

    /// Pipelined requests whose answers exceed the output threshold are all answered once the client takes
    /// them: before, reading resumed when the output drained but the requests already in the parser waited for
    /// bytes that never came, and the header deadline answered 408 (142 of 200 answered, then 408).
    @Test func pipelinedAnswersPastTheOutputThresholdAreAllServed() async throws {
        let loop = try EventLoop(name: "http-pipeline-test")
        loop.start()
        let body = String(repeating: "x", count: 8_192)
        var settings = HTTPServerSettings()
        settings.headerTimeoutMillis = 3_000
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, settings: settings, on: loop) { _, respond in
            respond(.text(200, body))
        }
        let port = UInt16(server.address.split(separator: ":").last!)!
        let expected = HTTPResponse.text(200, body).serialized(keepAlive: true).count * 200
        let outcome = await onOwnThread { () -> (bytes: Int, answers: Int, timeout: Bool, seconds: Double) in
            guard let socket = try? RawSocket(port: port, timeoutMillis: 5_000) else { return (0, 0, false, 0) }
            let start = Date()
            socket.send(String(repeating: "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", count: 200))
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while received.count < expected {
                let count = recv(socket.fd, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                received += buffer[0..<count]
            }
            let text = String(decoding: received, as: UTF8.self)
            return (
                received.count, text.components(separatedBy: "HTTP/1.1 200").count - 1, text.contains("HTTP/1.1 408"),
                Date().timeIntervalSince(start)
            )
        }
        #expect(expected > 1 << 20)
        #expect(outcome.answers == 200 && outcome.bytes == expected && !outcome.timeout, "\(outcome)")
        #expect(outcome.seconds < 2.5, "\(outcome)")
        await server.stop()
        await loop.stop()
    }

    /// A TLS ClientHello (or anything that cannot begin a method) is answered 400 and closed at once, not 408
    /// after the header timeout; the 408 itself carries its own reason phrase.
    @Test func nonHTTPBytesGet400AtOnceAnd408SaysRequestTimeout() async throws {
        let running = try Limits.start { $0.headerTimeoutMillis = 1_500 }
        let port = running.port
        let outcome = await onOwnThread { () -> ((String, Bool), Double, String) in
            guard let tls = try? RawSocket(port: port), let slow = try? RawSocket(port: port) else {
                return (("", false), 0, "")
            }
            let start = Date()
            tls.send(String(decoding: [0x16, 0x03, 0x01, 0x00, 0xC8, 0x01], as: UTF8.self))
            let tlsAnswer = tls.readToEnd()
            let seconds = Date().timeIntervalSince(start)
            slow.send("GET / HTTP/1.1\r\n")
            return (tlsAnswer, seconds, slow.readToEnd().text)
        }
        #expect(outcome.0.0.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && outcome.0.1, "\(outcome)")
        #expect(outcome.1 < 1, "\(outcome)")
        #expect(outcome.2.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(outcome)")
        await running.stop()
    }
}
