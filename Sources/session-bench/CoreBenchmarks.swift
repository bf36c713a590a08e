import CLinuxShims
import SessionClusterCore

/// One in-process figure: nanoseconds per operation (median of the repetitions), and bytes where it applies.
struct CoreFigure: Sendable {
    var name: String
    var nanosPerOp: Double
    /// Spread: the fastest and slowest repetition.
    var minNanos: Double
    var maxNanos: Double
    var bytes: Int?
    var note: String
}

/// Section 1: the core's hot paths, in process, on `SessionClusterCore` values (no I/O, no threads).
enum CoreBenchmarks {
    static func run(repetitions: Int, secondsPerRepetition: Double) -> [CoreFigure] {
        var figures = [CoreFigure]()
        func time(_ name: String, bytes: Int? = nil, note: String, _ body: (Int) -> Void) {
            figures.append(
                measure(name, bytes: bytes, note: note, repetitions: repetitions, seconds: secondsPerRepetition, body))
            progress("core: \(name) \(fixed(figures.last!.nanosPerOp, 1)) ns/op")
        }

        var random = SplitMix64(seed: 0x5E55_10A5)
        let me = NodeID(rawValue: 0x1111_1111_1111_1111)
        let peers = [NodeID(rawValue: 0x2222_2222_2222_2222): "n2", NodeID(rawValue: 0x3333_3333_3333_3333): "n3"]
        var clockMillis: Int64 = 1_700_000_000_000
        var instance = ReplicationInstance(
            settings: ReplicationSettings(mode: .delta, ack: .async), me: me, key: "n1",
            now: Timestamp(millis: clockMillis))
        _ = instance.onMembersChanged(peers, now: Timestamp(millis: clockMillis))
        // A held session like a logged-in user's: a name and 1 KB of state.
        let id = SessionID(using: &random)
        var initial = SessionChanges()
        initial.set("user", "alice")
        initial.set("data", [UInt8](repeating: 0x61, count: 1024))
        _ = instance.create(id, changes: initial, now: Timestamp(millis: clockMillis))
        // Background sessions, so dictionary lookups are not against a single entry.
        for _ in 0..<10_000 {
            _ = instance.create(SessionID(using: &random), changes: initial, now: Timestamp(millis: clockMillis))
        }
        let value = Array("value-0123456789".utf8)

        var ticket: AccessTicket = 0
        let token = instance.session(id)!.version
        time("access a held session", note: "access(token:) + release, 10,001 sessions held") { count in
            var served = 0
            for _ in 0..<count {
                ticket += 1
                let directives = instance.access(id, token: token, ticket: ticket, now: Timestamp(millis: clockMillis))
                served += directives.count
                instance.release(id)
            }
            blackHole(served)
        }

        var lastDelta: SessionDelta?
        time("commit a one-attribute delta", note: "16-byte value, delta mode, 2 peers: 2 send directives") { count in
            var sends = 0
            for index in 0..<count {
                if index & 1023 == 0 { clockMillis += 1 }
                var changes = SessionChanges()
                changes.set("x", value)
                let result = instance.commit(id, changes: changes, now: Timestamp(millis: clockMillis))
                sends += result.directives.count
                if index == count - 1, case .send(.delta(let delta, _), _)? = result.directives.first {
                    lastDelta = delta
                }
            }
            blackHole(sends)
        }

        let message = ReplicationMessage.delta(lastDelta!, ack: nil)
        let payload = WireCodec.encode(message)
        let frameBytes = WireCodec.frame(.replication(message)).count
        time("encode the delta", bytes: payload.count, note: "payload; \(frameBytes) bytes as a frame") { count in
            var total = 0
            for _ in 0..<count { total &+= WireCodec.encode(message).count }
            blackHole(total)
        }
        time("decode the delta", bytes: payload.count, note: "bounds-checked, typed errors") { count in
            var total = 0
            for _ in 0..<count {
                if case .delta(let delta, _)? = try? WireCodec.decodeReplicationMessage(payload) {
                    total &+= Int(delta.dot.counter)
                }
            }
            blackHole(total)
        }

        // 64 pairs of 3-entry vectors (three nodes wrote the session), so nothing is loop-invariant.
        let pairs: [(VersionVector, VersionVector)] = (0..<64).map { index in
            let nodes = (0..<3).map { _ in NodeID(rawValue: random.next()) }
            let a = VersionVector(nodes.map { ($0, UInt64.random(in: 1...50, using: &random)) })
            let b = VersionVector(nodes.map { ($0, UInt64.random(in: 1...50, using: &random)) })
            return (a, b)
        }
        time("version vector compare", note: "3 entries; before/after/equal/concurrent") { count in
            var concurrent = 0
            for index in 0..<count {
                let (a, b) = pairs[index & 63]
                if a.compare(to: b) == .concurrent { concurrent += 1 }
            }
            blackHole(concurrent)
        }
        time("version vector merge", note: "3 entries, pointwise max into a copy") { count in
            var total: UInt64 = 0
            for index in 0..<count {
                let (a, b) = pairs[index & 63]
                total &+= a.merging(b).total
            }
            blackHole(total)
        }

        let ids = (0..<4096).map { _ in SessionID(using: &random) }
        for size in [3, 6] {
            let ring = HashRing(
                members: (1...size).map { HashRing.Member(id: NodeID(rawValue: UInt64($0) * 0x1000), key: "n\($0)") })
            time("ring lookup, \(size) nodes", note: "owners(of:limit: 2), 128 virtual nodes each") { count in
                var total: UInt64 = 0
                for index in 0..<count { total &+= ring.owners(of: ids[index & 4095], limit: 2)[0].rawValue }
                blackHole(total)
            }
        }
        return figures
    }

    /// Calibrates the iteration count so one repetition lasts about `seconds`, then returns the median.
    private static func measure(
        _ name: String, bytes: Int?, note: String, repetitions: Int, seconds: Double, _ body: (Int) -> Void
    ) -> CoreFigure {
        var iterations = 1_000
        while true {
            let began = Measure.nanos()
            body(iterations)
            let elapsed = Double(Measure.nanos() - began) / 1e9
            if elapsed > seconds / 4 || iterations >= 1 << 30 {
                iterations = max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-9)))
                break
            }
            iterations *= 8
        }
        var perOp = [Double]()
        for _ in 0..<repetitions {
            let began = Measure.nanos()
            body(iterations)
            perOp.append(Double(Measure.nanos() - began) / Double(iterations))
        }
        return CoreFigure(
            name: name, nanosPerOp: Measure.median(perOp), minNanos: perOp.min() ?? 0, maxNanos: perOp.max() ?? 0,
            bytes: bytes, note: note)
    }

    /// Resident memory of copies held by a `ReplicationInstance` alone (no sockets, no HTTP): `count` sessions of a
    /// user name and 1 KB, each arriving as two encoded deltas from a peer (login, then the 1 KB write), decoded and
    /// applied as a node's link would. Separates the core's data structures from the node process's overheads.
    static func memoryPerHeldCopy(count: Int) -> MemoryFigure {
        var random = SplitMix64(seed: 0xC0FF_EE00)
        let origin = NodeID(rawValue: 0x2222_2222_2222_2222)
        let now = Timestamp(millis: 1_700_000_000_000)
        var instance = ReplicationInstance(
            settings: ReplicationSettings(mode: .delta, ack: .async), me: NodeID(rawValue: 0x1111), key: "n1",
            now: now)
        _ = instance.onMembersChanged([origin: "n2"], now: now)
        let payload = [UInt8]((0..<1024).map { UInt8(0x41 + $0 % 26) })
        let baseline = selfResidentKiB()
        let heapBefore = csc_heap_in_use()
        for index in 0..<count {
            let id = SessionID(using: &random)
            // Stamps as a hybrid logical clock makes them at 50,000 sessions a second: the wall advances a
            // millisecond every 50 sessions and the logical counter counts within it, and the deltas arrive as they
            // are made (before, one millisecond for every session and a logical counter up to 2 × count: 3–4 bytes
            // more per copy than a real clock's).
            let wall = now.millis + Int64(index / 50)
            let arrival = Timestamp(millis: wall)
            let login = Stamp(time: HLCTimestamp(wall: wall, logical: UInt32(2 * (index % 50))), node: origin)
            let data = Stamp(time: HLCTimestamp(wall: wall, logical: UInt32(2 * (index % 50) + 1)), node: origin)
            let first = SessionDelta(
                sessionID: id, dot: Dot(origin: origin, counter: 1), base: VersionVector(),
                patch: SessionContent(
                    createdAt: arrival, lastAccess: arrival, maxInactive: 1800, maxInactiveStamp: login,
                    attributes: ["user": AttributeSlot(value: Array("u\(index)".utf8), stamp: login)]))
            let second = SessionDelta(
                sessionID: id, dot: Dot(origin: origin, counter: 2),
                base: VersionVector([(origin, UInt64(1))] as [(NodeID, UInt64)]),
                patch: SessionContent(
                    lastAccess: arrival, attributes: ["data": AttributeSlot(value: payload, stamp: data)]))
            for delta in [first, second] {
                let bytes = WireCodec.encode(.delta(delta, ack: nil))
                if let message = try? WireCodec.decodeReplicationMessage(bytes) {
                    _ = instance.onMessage(message, from: origin, now: arrival)
                }
            }
        }
        let resident = selfResidentKiB()
        let heapAfter = csc_heap_in_use()
        let held = instance.liveSessionCount
        if held != count { progress("core only: WARNING \(count - held) of \(count) sessions were not taken in") }
        // malloc's own count beside the resident figure: the difference is the heap's free space and fragmentation.
        let inUse = Double(heapAfter) - Double(heapBefore)
        progress(
            "core only: heap in use \(fixed(inUse / Double(max(1, held)), 0)) B per copy (malloc's count; free in "
                + "the heap \(fixed(Double(csc_heap_free()) / Double(max(1, held)), 0)) B per copy)")
        blackHole(instance)
        return MemoryFigure(
            label: "core only: ReplicationInstance (in process)", sessions: held, baselineKiB: baseline,
            residentKiB: resident)
    }

    private static func selfResidentKiB() -> Int {
        guard let text = readFile("/proc/self/status") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
