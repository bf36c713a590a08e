import Foundation
import HTTPFrontEnd
import SessionCluster
import Synchronization
import TestSupport
import Testing

/// One server on several loops: connections handed out in turn, each served on its loop, the figures summed.
@Suite(.serialized) struct HTTPServerLoopsTests {
    @Test func connectionsAreSpreadOverTheLoopsAndCountedTogether() async throws {
        let loops = try (0..<2).map { try EventLoop(name: "http-loops-\($0)") }
        for loop in loops { loop.start() }
        let servedOn = Mutex<[Int: Int]>([:])
        let server = try HTTPServer.start(host: "127.0.0.1", port: 0, on: loops) { _, respond in
            let loop = loops.firstIndex { $0.inLoop } ?? -1
            servedOn.withLock { $0[loop, default: 0] += 1 }
            respond(.text(200, "ok\n"))
        }
        let port = UInt16(server.address.split(separator: ":").last!)!
        let answers = await onOwnThread { () -> [String] in
            guard let sockets = try? (0..<6).map({ _ in try RawSocket(port: port) }) else { return [] }
            var answers = [String]()
            for round in 0..<3 {
                for socket in sockets {
                    socket.send("GET /\(round) HTTP/1.1\r\nHost: t\r\n\r\n")
                    answers.append(socket.read(until: "ok\n"))
                }
            }
            return answers
        }
        #expect(answers.count == 18 && answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") })
        // Six connections in turn over two loops: three each, every request on its connection's loop.
        #expect(servedOn.withLock { $0 } == [0: 9, 1: 9])
        let stats = await server.stats()
        #expect(stats.accepted == 6)
        await server.stop()
        #expect(await server.stats().open == 0)
        for loop in loops { await loop.stop() }
    }
}
