import Foundation
import SessionCluster
import Testing

extension ClusterNodeTests {
    /// A log handler that blocks forever (a stdout pipe nobody reads) must not stall the node: the loop queues
    /// its records, drops and counts them past the queue's capacity, and keeps serving and beaconing.
    @Test func stuckLogHandlerNeitherStallsTheNodeNorLosesCountOfItsRecords() async throws {
        let multicast = Self.uniqueMulticast()
        let recorder = LogRecorder.closed()
        var settings = Self.settings("n1", multicast: multicast)
        settings.logLevel = .debug
        settings.logQueueCapacity = 1
        settings.logHandler = { recorder.handle($0) }
        let n1 = try await ClusterNode.start(settings)
        let n2 = try await ClusterNode.start(Self.settings("n2", multicast: multicast))
        // n1's first record (n2 joined) blocks its handler for good, until `open()` below.
        _ = try await Self.awaitMembership([n1, n2])
        #expect(await recorder.await { !$0.isEmpty })
        // More records than the queue holds: n3 joins (queued), then leaves (dropped), at least.
        let n3 = try await ClusterNode.start(Self.settings("n3", multicast: multicast))
        _ = try await Self.awaitMembership([n1, n2, n3])
        await n3.shutdown()
        var dropped = 0
        for _ in 0..<500 where dropped == 0 {
            dropped = await n1.stats().logRecordsDropped
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(dropped >= 1, "no record was dropped")

        // Still stuck, n1 serves: create, read, update here; the write is read on n2; n2 sees n1 alive.
        let served = await Self.within(10, "sessions on the node with a stuck log handler") { () -> String? in
            guard let login = try? await n1.create({ $0.set("user", "alice") }),
                let read = try? await n1.read(login.id, token: login.version),
                let update = try? await n1.update(
                    login.id, token: login.version,
                    { _, changes in
                        changes.set("cart", "3 items")
                    })
            else { return nil }
            let seen = try? await n2.read(login.id, token: update.version)
            return (read.string("user") ?? "") + "/" + (seen?.string("cart") ?? "")
        }
        #expect(served == "alice/3 items")
        let n1AsSeen = await n2.members().first { $0.info.id == n1.me.id }
        #expect(n1AsSeen?.status == .alive)
        #expect(recorder.all.count == 1, "the stuck handler was called again: \(recorder.messages)")

        // Unstuck: a warning counting the dropped records arrives (before the records queued after the drops:
        // `NodeLoggerTests` checks the order), and the warnings add up to what the stats counted.
        recorder.open()
        let warned = await recorder.await { records in
            records.contains { $0.level == .warning && $0.message.hasSuffix("log records dropped") }
        }
        #expect(warned, "\(recorder.all.map(\.formatted))")
        await Self.stopAll([n1, n2])
        let reported = recorder.all.filter { $0.message.hasSuffix("log records dropped") }
            .compactMap { $0[field: "dropped"].flatMap(Int.init) }.reduce(0, +)
        let counted = await n1.stats().logRecordsDropped
        #expect(reported == counted && counted >= dropped, "warnings say \(reported), the stats \(counted)")
        #expect(recorder.all.contains { $0.message == "member joined" && $0[field: "peer"] == "n2" })
        #expect(recorder.all.allSatisfy { $0.node == "n1" })
    }
}
