import SessionClusterCore
import Testing

/// Non-trivial values of every wire type, shared by the wire tests.
enum WireSamples {
    static let a = NodeID(rawValue: 0x0102_0304_0506_0708)
    static let b = NodeID(rawValue: 2)
    static let c = NodeID(rawValue: .max)
    static let id1 = SessionID(high: 0xDEAD_BEEF_0000_0001, low: 0x0123_4567_89AB_CDEF)
    static let id2 = SessionID(high: 0, low: 0)
    static let id3 = SessionID(high: .max, low: .max)

    static func stamp(_ wall: Int64, _ logical: UInt32, _ node: NodeID) -> Stamp {
        Stamp(time: HLCTimestamp(wall: wall, logical: logical), node: node)
    }

    static let fullContent = SessionContent(
        createdAt: Timestamp(millis: 1_700_000_000_000),
        lastAccess: Timestamp(millis: 1_700_000_123_456),
        maxInactive: -1,
        maxInactiveStamp: stamp(1_700_000_000_001, 3, a),
        attributes: [
            "user": AttributeSlot(value: Array("alice".utf8), stamp: stamp(1_700_000_000_002, 0, a)),
            "cart": AttributeSlot(value: nil, stamp: stamp(1_700_000_000_003, .max, b)),
            "": AttributeSlot(value: [], stamp: stamp(-5, 1, c)),
            "größe-名前": AttributeSlot(value: Array(0...255), stamp: stamp(.max, 7, a)),
        ],
        invalidation: Invalidation(stamp: stamp(1_700_000_999_000, 1, b), reason: .renamed, renamedTo: id3))

    static let patch = SessionContent(
        lastAccess: Timestamp(millis: .min),
        attributes: ["theme": AttributeSlot(value: [0x64, 0x61, 0x72, 0x6B], stamp: stamp(.min, 0, b))],
        invalidation: Invalidation(stamp: stamp(9, 9, a), reason: .logout))

    static let vector = VersionVector([(a, 3), (b, 1), (c, .max)] as [(NodeID, UInt64)])

    static let fullSession = Session(id: id1, content: fullContent, version: vector)
    static let emptySession = Session(id: id2, content: SessionContent(), version: VersionVector())
    static let expiredSession = Session(
        id: id3,
        content: SessionContent(
            createdAt: .zero, lastAccess: .zero, maxInactive: 1800, maxInactiveStamp: stamp(0, 0, c),
            invalidation: Invalidation(stamp: stamp(1, 0, c), reason: .expired)),
        version: VersionVector([(c, 1)] as [(NodeID, UInt64)]))

    static let placementWithBackup = Placement(epoch: 17, primary: a, backup: b)
    static let placementAlone = Placement(epoch: .max, primary: c, backup: nil)

    static let delta = SessionDelta(sessionID: id1, dot: Dot(origin: a, counter: 4), base: vector, patch: patch)
    static let firstDelta = SessionDelta(
        sessionID: id2, dot: Dot(origin: b, counter: 1), base: VersionVector(), patch: SessionContent())

    static let messages: [ReplicationMessage] = [
        .delta(delta, ack: 7),
        .delta(firstDelta, ack: nil),
        .ack(0),
        .ack(.max),
        .fetch(1, id1, takeover: true),
        .fetch(.max, id2, takeover: false),
        .fetchReply(2, id1, fullSession, placementWithBackup),
        .fetchReply(3, id2, nil, nil),
        .fetchReply(4, id3, expiredSession, nil),
        .snapshot(fullSession, placementAlone),
        .snapshot(emptySession, nil),
        .placement(id1, placementWithBackup),
        .placement(id3, placementAlone),
        .transferRequest(42, after: nil, chunks: 4),
        .transferRequest(.max, after: id3, chunks: 0),
        .transferRequest(0, after: id1, chunks: .max),
        .transferChunk(5, [fullSession, emptySession, expiredSession], last: false),
        .transferChunk(6, [], last: true),
        .digest(
            round: 9,
            [
                DigestEntry(sessionID: id1, version: vector),
                DigestEntry(
                    sessionID: id2, version: .init(),
                    placement: Placement(epoch: 3, primary: NodeID(rawValue: 9), backup: nil)),
            ],
            last: true),
        .digest(round: 0, [], last: false),
        .confirm(id1, Dot(origin: a, counter: 1_795_000_000_123 << 10), 8),
        .confirm(id2, Dot(origin: b, counter: .max), .max),
    ]

    static let memberA = MemberInfo(id: a, name: "n1", replication: "127.0.0.1:7001", http: "127.0.0.1:8001")
    static let memberB = MemberInfo(id: b, name: "nœud-2", replication: "[::1]:7002", http: "")
    static let memberC = MemberInfo(id: c, name: "", replication: "", http: "")

    static let beacons: [Beacon] = [
        Beacon(
            cluster: "shop-prod", sender: memberA, status: .alive, sequence: 123_456,
            members: [
                GossipEntry(member: memberB, status: .suspect), GossipEntry(member: memberC, status: .dead),
                GossipEntry(member: memberA, status: .leaving),
            ]),
        Beacon(cluster: "", sender: memberC, status: .leaving, sequence: .max, members: []),
        Beacon(cluster: "c", shards: 64, sender: memberB, status: .alive, sequence: 1, members: []),
    ]

    static let hellos: [PeerHello] = [
        PeerHello(cluster: "shop-prod", member: memberA),
        PeerHello(cluster: "集群", member: memberB),
    ]

    static var frames: [PeerFrame] {
        hellos.map(PeerFrame.hello) + messages.map(PeerFrame.replication) + beacons.map(PeerFrame.beacon)
            + [.clock(0), .clock(1_795_000_000_123_456), .clock(.max)]
    }

    /// The case of `message`, by an exhaustive switch: a new case fails to compile here until sampled.
    static func caseName(_ message: ReplicationMessage) -> String {
        switch message {
        case .delta: "delta"
        case .ack: "ack"
        case .fetch: "fetch"
        case .fetchReply: "fetchReply"
        case .snapshot: "snapshot"
        case .placement: "placement"
        case .transferRequest: "transferRequest"
        case .transferChunk: "transferChunk"
        case .digest: "digest"
        case .confirm: "confirm"
        }
    }
}

/// The `WireError` that `body` throws, or nil when it succeeds. Any other error is recorded as an issue.
/// (Untyped so closures inside `#expect` need no annotation; the decoders' typed throws guarantee the type.)
func wireError<Value>(_ body: () throws -> Value, sourceLocation: SourceLocation = #_sourceLocation) -> WireError? {
    do {
        _ = try body()
        return nil
    } catch let error as WireError {
        return error
    } catch {
        Issue.record("expected a WireError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension WireError.Code {
    var isTruncated: Bool {
        if case .truncated = self { return true }
        return false
    }

    func isInvalidValue(field expected: String) -> Bool {
        if case .invalidValue(let field, _) = self { return field == expected }
        return false
    }
}

@Suite struct WireSamplesTests {
    @Test func samplesCoverEveryReplicationMessageCase() {
        let covered = Set(WireSamples.messages.map(WireSamples.caseName))
        #expect(covered.count == 10)
    }

    @Test func attributeEncodingIsIndependentOfInsertionOrder() {
        let names = (0..<64).map { "attr\($0)" }
        let slots = names.map {
            ($0, AttributeSlot(value: Array($0.utf8), stamp: WireSamples.stamp(1, 0, WireSamples.a)))
        }
        let orders = [
            AttributeMap(slots), AttributeMap(slots.reversed()),
            AttributeMap(Dictionary(uniqueKeysWithValues: slots)),
        ]
        let encodings = orders.map { attributes in
            let session = Session(
                id: WireSamples.id1, content: SessionContent(attributes: attributes), version: VersionVector())
            return WireCodec.encode(.snapshot(session, nil))
        }
        #expect(encodings.allSatisfy { $0 == encodings[0] })
    }

    @Test func errorDescriptionNamesTheFailureAndItsValue() {
        let error = WireError(.unsupportedVersion(9), offset: 2)
        #expect(error.description == "wire decoding failed at byte 2: unsupported wire version 9, this build speaks 3")
        let truncated = WireError(.truncated(needed: 8, remaining: 3), offset: 12)
        #expect(truncated.description == "wire decoding failed at byte 12: truncated: needed 8 bytes, 3 remain")
        #expect(WireError(.badMagic(found: [0x47, 0x45]), offset: 0).description.contains("0x47 0x45"))
    }
}
