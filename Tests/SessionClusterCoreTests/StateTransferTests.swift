import Testing

@testable import SessionClusterCore

/// Delta mode's windowed state transfer (`ReplicationInstance+Transfer`): two chunks of two sessions per window.
@Suite struct StateTransferTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let n3 = ReplicationCluster.node(3)

    struct Chunk: Equatable, CustomStringConvertible {
        var ids: [SessionID]
        var last: Bool
        var description: String { "\(ids.count) ids\(last ? " last" : "")" }
    }

    static func settings() -> ReplicationSettings {
        var settings = ReplicationSettings.unitTest()
        settings.transferChunkSessions = 2
        settings.transferWindowChunks = 2
        return settings
    }

    /// `count` sessions created on n1 and replicated everywhere, the first in n1's order logged out; their ids in
    /// n1's order (the order n1 serves windows in; every node has its own).
    func populate(_ cluster: inout ReplicationCluster, count: Int) -> [SessionID] {
        let ids = (100..<(100 + UInt64(count))).map(sessionID)
        for (index, id) in ids.enumerated() { cluster.create(id, on: n1, setting(["n": "\(index)"])) }
        let ordered = ids.sorted(by: cluster[n1].sessionOrder.precedes)
        var logout = SessionChanges()
        logout.invalidate()
        cluster.commit(ordered[0], on: n1, logout)
        cluster.deliverAll()
        return ordered
    }

    func chunks(_ directives: [ReplicationDirective], to node: NodeID) -> [Chunk] {
        directives.compactMap {
            guard case .send(.transferChunk(_, let sessions, let last), node) = $0 else { return nil }
            return Chunk(ids: sessions.map(\.id), last: last)
        }
    }

    func isChunk(_ envelope: Envelope) -> Bool {
        if case .transferChunk = envelope.message { true } else { false }
    }

    @Test func donorAnswersOneWindowAfterTheCursorInItsOrder() {
        var cluster = ReplicationCluster(count: 2, settings: Self.settings())
        let ids = populate(&cluster, count: 9)
        func window(after cursor: SessionID?, chunks count: UInt8) -> [Chunk] {
            chunks(cluster.receive(.transferRequest(7, after: cursor, chunks: count), at: n1, from: n3), to: n3)
        }
        // The tombstone of the logged-out session is part of the first window.
        #expect(cluster[n1].session(ids[0])?.isValid == false)
        #expect(
            window(after: nil, chunks: 2) == [
                Chunk(ids: Array(ids[0..<2]), last: false), Chunk(ids: Array(ids[2..<4]), last: false),
            ])
        #expect(
            window(after: ids[3], chunks: 3) == [
                Chunk(ids: Array(ids[4..<6]), last: false), Chunk(ids: Array(ids[6..<8]), last: false),
                Chunk(ids: [ids[8]], last: true),
            ])
        #expect(window(after: ids[6], chunks: 1) == [Chunk(ids: Array(ids[7..<9]), last: true)])
        #expect(window(after: ids[8], chunks: 2) == [Chunk(ids: [], last: true)])
        // A cursor between held ids, and a window of zero chunks (never asked for) is served as one.
        let between = SessionID(high: ids[1].high, low: ids[1].low &+ 1)
        #expect(window(after: between, chunks: 0) == [Chunk(ids: Array(ids[2..<4]), last: false)])
    }

    @Test func chunksEndAtTheirByteBudgetAndTheWindowsStillCoverEverySession() {
        var settings = Self.settings()
        settings.transferChunkSessions = 4
        settings.transferChunkBytes = 200
        var cluster = ReplicationCluster(count: 2, settings: settings)
        let ids = (100..<109).map(sessionID)
        for (index, id) in ids.enumerated() {
            // Sessions of ~100 to ~300 bytes: a chunk holds one or two of them, never the four it may by count.
            cluster.create(id, on: n1, setting(["blob": String(repeating: "x", count: 40 + 60 * (index % 4))]))
        }
        cluster.deliverAll()
        let order = cluster[n1].sessionOrder
        var received = [SessionID]()
        var cursor: SessionID?
        var windows = 0
        while windows < 20 {
            windows += 1
            let window = chunks(
                cluster.receive(.transferRequest(7, after: cursor, chunks: 2), at: n1, from: n3), to: n3)
            #expect(window.count == 2 || window.last?.last == true, "a window not last must have its 2 chunks")
            for chunk in window {
                #expect(!chunk.ids.isEmpty && chunk.ids.count <= 2, "chunk of \(chunk.ids.count)")
            }
            received += window.flatMap(\.ids)
            if window.last?.last == true { break }
            cursor = received.last
        }
        #expect(received == ids.sorted(by: order.precedes))
    }

    @Test func joinerResumesAtItsCursorFromAnotherDonorAndKeepsNewerDeltas() throws {
        var cluster = ReplicationCluster(count: 2, settings: Self.settings())
        let ids = populate(&cluster, count: 11)
        _ = cluster.addNode(3)
        let first = ReplicationMessage.transferRequest(1, after: nil, chunks: 2)
        #expect(
            cluster.setMembers(of: n3, to: [n1, n2, n3]) == [.send(first, to: n1), .event(.transferStarted(from: n1))])
        cluster.setMembers(of: n1, to: [n1, n2, n3])
        cluster.setMembers(of: n2, to: [n1, n2, n3])

        // The first window; once both its chunks arrived, the next is asked for after its last id.
        #expect(chunks(cluster.deliverNext(to: n1) { $0.message == first }, to: n3).count == 2)
        #expect(cluster.deliverNext(to: n3, where: isChunk) == [])
        let second = ReplicationMessage.transferRequest(2, after: ids[3], chunks: 2)
        #expect(cluster.deliverNext(to: n3, where: isChunk) == [.send(second, to: n1)])

        // n2 writes to a session of the second window; n3 gets the delta before n1, its donor, does.
        let late = ids[5]
        cluster.commit(late, on: n2, setting(["n": "new"]))
        cluster.deliverNext(to: n3) { $0.from == n2 && $0.message.delta?.sessionID == late }
        #expect(cluster[n3].session(late) == nil)
        #expect(chunks(cluster.deliverNext(to: n1) { $0.message == second }, to: n3).count == 2)
        // The first chunk of the second window arrives with n1's older copy; the delta is not lost to it.
        cluster.deliverNext(to: n3, where: isChunk)
        #expect(cluster[n1].session(late)?.attribute("n") != bytes("new"))
        #expect(cluster[n3].session(late)?.attribute("n") == bytes("new"))

        // n1 dies before the rest of its window arrives: n2 is asked for the window after the same cursor. In n2's
        // order that cursor falls elsewhere: n2 sends what it orders after it, and what it orders before it that
        // n1 had not sent comes at the end, pushed back after n3's closing digest.
        cluster.remove(n1)
        cluster.setMembers(of: n2, to: [n2, n3])
        let resumed = ReplicationMessage.transferRequest(3, after: ids[3], chunks: 2)
        #expect(
            cluster.setMembers(of: n3, to: [n2, n3]) == [.send(resumed, to: n2), .event(.transferStarted(from: n2))])
        let order2 = cluster[n2].sessionOrder
        let fromN2 = ids.filter { order2.precedes(ids[3], $0) }.count
        let passedOver = ids[6...].filter { !order2.precedes(ids[3], $0) }
        #expect(!passedOver.isEmpty)  // the keys below make the closing digest do some work
        cluster.deliverAll()

        #expect(cluster[n3].isTransferComplete)
        // 4 in the first window, 2 of the second from n1, then what n2 orders after the cursor.
        let received = 6 + fromN2
        #expect(
            cluster.outputs[n3]?.contains(.event(.transferCompleted(from: n2, sessions: received, millis: 0))) == true)
        #expect(cluster[n3].sessionIDs == ids.sorted())
        for id in ids { #expect(cluster[n3].session(id) == cluster[n2].session(id)) }
        #expect(cluster[n3].session(late)?.attribute("n") == bytes("new"))
    }

    @Test func everyChunkExtendsTheDeadlineAndAStalledDonorIsAskedAgainAtTheCursor() {
        var settings = Self.settings()
        settings.transferTimeoutMillis = 100
        var cluster = ReplicationCluster(count: 2, settings: settings)
        let ids = populate(&cluster, count: 7)
        _ = cluster.addNode(3)
        cluster.setMembers(of: n3, to: [n1, n3])  // n2 not seen yet: n1 is the only donor
        cluster.deliverNext(to: n1) { $0.message == .transferRequest(1, after: nil, chunks: 2) }

        cluster.advance(90)
        cluster.deliverNext(to: n3, where: isChunk)
        cluster.advance(90)
        #expect(cluster.tick(n3) == [])
        #expect(
            cluster.deliverNext(to: n3, where: isChunk) == [
                .send(.transferRequest(2, after: ids[3], chunks: 2), to: n1)
            ])

        // The request is lost (a link reset): after the time-out the same donor is asked again, at the cursor.
        #expect(cluster.take { $0.to == n1 }.count == 1)
        cluster.advance(99)
        #expect(cluster.tick(n3) == [])
        cluster.advance(1)
        let again = ReplicationMessage.transferRequest(3, after: ids[3], chunks: 2)
        #expect(cluster.tick(n3) == [.send(again, to: n1), .event(.transferStarted(from: n1))])
        cluster.deliverAll()
        #expect(cluster[n3].isTransferComplete)
        #expect(cluster[n3].sessionIDs == ids.sorted())
    }

    @Test func theClosingDigestBringsASessionTheCursorPassedBeforeTheDonorListedTheJoiner() throws {
        var cluster = ReplicationCluster(count: 2, settings: Self.settings())
        let ids = populate(&cluster, count: 6)
        _ = cluster.addNode(3)
        cluster.setMembers(of: n3, to: [n1, n2, n3])  // n1 and n2 do not list n3 yet
        cluster.deliverNext(to: n1) { $0.message == .transferRequest(1, after: nil, chunks: 2) }
        cluster.deliverAll { $0.to == n3 }  // the first window: the cursor is now ids[3]

        // Created on n1 while it does not list n3: its delta goes to n2 only, and it sorts below the cursor.
        let order = cluster[n1].sessionOrder
        let hidden = try #require(
            (1_000..<2_000).lazy.map(sessionID).first { order.precedes($0, ids[3]) && !ids.contains($0) })
        cluster.create(hidden, on: n1, setting(["n": "hidden"]))
        cluster.setMembers(of: n1, to: [n1, n2, n3])
        cluster.setMembers(of: n2, to: [n1, n2, n3])
        cluster.deliverAll()

        #expect(cluster[n3].isTransferComplete)
        #expect(cluster[n3].session(hidden) != nil)
        #expect(cluster[n3].session(hidden) == cluster[n1].session(hidden))
    }

    @Test func aJoinerWhosePeersAllLeftResumesWhenOneAppears() {
        var cluster = ReplicationCluster(count: 2, settings: Self.settings())
        let ids = populate(&cluster, count: 6)
        _ = cluster.addNode(3)
        cluster.setMembers(of: n3, to: [n1, n3])
        cluster.deliverNext(to: n1) { $0.message == .transferRequest(1, after: nil, chunks: 2) }
        cluster.deliverAll { $0.to == n3 }
        _ = cluster.take { $0.to == n1 }  // the second window's request, lost with n1

        cluster.remove(n1)
        #expect(cluster.setMembers(of: n3, to: [n3]) == [])
        let resumed = ReplicationMessage.transferRequest(3, after: ids[3], chunks: 2)
        #expect(
            cluster.setMembers(of: n3, to: [n2, n3]) == [.send(resumed, to: n2), .event(.transferStarted(from: n2))])
        cluster.setMembers(of: n2, to: [n2, n3])
        cluster.deliverAll()
        #expect(cluster[n3].isTransferComplete)
        #expect(cluster[n3].sessionIDs == ids.sorted())
    }
}
