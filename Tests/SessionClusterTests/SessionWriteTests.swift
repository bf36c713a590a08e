import SessionClusterCore
import TestSupport
import Testing

@testable import SessionCluster

/// Writes that do not read the session (`ClusterNode.write`, what `PUT /session/attributes/NAME` uses): no
/// snapshot is built, and the size check reads the held copy in place.
@Suite struct SessionWriteTests {
    /// The in-place size check (one pass, then a lookup per name, or a table past 8 changes) decides exactly as
    /// the check over a decoded dictionary, whatever the copy holds (tombstones too) and however the changes repeat.
    @Test func theSizeCheckOnTheHeldCopyDecidesAsTheOneOnItsAttributes() {
        var random = TimerTestRandom(seed: 7)
        let names = (0..<10).map { "a\($0)" } + ["é", "e\u{301}"]
        let stamp = Stamp(time: HLCTimestamp(wall: 1, logical: 0), node: NodeID(rawValue: 1))
        for _ in 0..<3_000 {
            var slots = [String: AttributeSlot]()
            for name in names where random.next() % 2 == 0 {
                let value: [UInt8]? =
                    random.next() % 5 == 0 ? nil : [UInt8](repeating: 1, count: Int(random.next() % 40))
                slots[name] = AttributeSlot(value: value, stamp: stamp)
            }
            let held = AttributeMap(slots)
            let live = slots.compactMapValues(\.value)
            var changes = SessionChanges()
            for _ in 0..<Int(random.next() % 20) {
                let name = names[Int(random.next() % UInt64(names.count))]
                if random.next() % 3 == 0 {
                    changes.remove(name)
                } else {
                    changes.set(name, [UInt8](repeating: 2, count: Int(random.next() % 40)))
                }
            }
            let limits = (attributes: Int(random.next() % 12) + 1, bytes: Int(random.next() % 300))
            #expect(
                NodeRuntime.fits(changes, onHeld: held, within: limits)
                    == NodeRuntime.fits(changes, on: live, within: limits),
                "\(live.keys.sorted()) + \(changes.changes.count) changes within \(limits)")
        }
    }

    /// Through a node: a write past a limit is refused and leaves the session as it was (released: the next write
    /// goes through); replacing a value counts the old one off.
    @Test func aWriteThatDoesNotReadIsRefusedPastTheLimitsAndLosesNothing() async throws {
        var settings = ClusterNodeSettings(cluster: "write-limits", name: "n1")
        settings.secret = "write limits test secret of thirty-two bytes"
        settings.multicast = nil
        settings.maxAttributesPerSession = 2
        settings.maxSessionBytes = 64
        settings.loops = TestLoops.count
        let node = try await ClusterNode.start(settings)
        let created = try await node.create { $0.set("a", [UInt8](repeating: 1, count: 40)) }
        func write(_ change: @escaping @Sendable (inout SessionChanges) -> Void) async -> SessionError? {
            await withCheckedContinuation { (done: CheckedContinuation<SessionError?, Never>) in
                node.eventLoop.execute {
                    node.write(created.id, token: created.version, { change(&$0) }) { result in
                        if case .failure(let error) = result {
                            done.resume(returning: error)
                        } else {
                            done.resume(returning: nil)
                        }
                    }
                }
            }
        }
        #expect(await write { $0.set("b", [UInt8](repeating: 2, count: 30)) } == .tooLarge)  // 2 + 70 bytes
        #expect(await write { $0.set("a", [UInt8](repeating: 3, count: 60)) } == nil)  // replaces: 61 bytes
        #expect(
            await write {
                $0.set("b", [])
                $0.set("c", [])
            } == .tooLarge)  // 3 attributes
        #expect(
            await write {
                $0.remove("a")
                $0.set("b", [UInt8](repeating: 4, count: 50))
            } == nil)
        let read = try await node.read(created.id, token: nil)
        #expect(read.attributes == ["b": [UInt8](repeating: 4, count: 50)])
        await node.shutdown()
    }
}
