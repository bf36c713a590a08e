import Foundation
@testable import SessionCluster
import Synchronization
import Testing

/// The public API as an embedding server uses it: event subscriptions, `run()`, `Codable` attributes, sessions
/// named by the caller, errors a body throws.
extension ClusterNodeTests {
    struct Cart: Codable, Equatable, Sendable {
        var items: [String]
        var total: Double
    }

    struct OutOfStock: Error, Equatable {
        var item: String
    }

    /// Polls `condition` every 20 ms for up to 20 s (once more after the deadline: a starved poller must not fail a
    /// condition that came true long ago).
    static func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        if await condition() { return }
        throw ClusterTestError("\(what): not within 20 s")
    }

    /// Two consumers subscribed at once each see every event, in the same order: a peer joining, then leaving.
    @Test func twoConcurrentEventConsumersEachSeeEveryEvent() async throws {
        let multicast = Self.uniqueMulticast()
        let n1 = try await ClusterNode.start(Self.settings("n1", multicast: multicast))
        let first = n1.events
        let second = n1.events
        func collect(_ events: ClusterEvents) -> Task<[ClusterEvent], Never> {
            Task {
                var seen = [ClusterEvent]()
                for await event in events {
                    seen.append(event)
                    if case .member(.left) = event { break }
                    if case .member(.dead) = event { break }
                }
                return seen
            }
        }
        let a = collect(first)
        let b = collect(second)
        let n2 = try await ClusterNode.start(Self.settings("n2", multicast: multicast))
        _ = try await Self.awaitMembership([n1, n2])
        await n2.shutdown()
        let seenA = await Self.within(20, "first consumer") { await a.value }
        let seenB = await Self.within(20, "second consumer") { await b.value }
        await n1.shutdown()
        #expect(seenA == seenB)
        #expect(seenA?.contains { if case .member(.joined) = $0 { true } else { false } } == true)
        #expect(seenA?.contains { if case .member(.left) = $0 { true } else { false } } == true)
    }

    /// A subscription whose consumer falls behind its buffer loses the oldest events and is told how many.
    @Test func aSlowConsumerIsToldHowManyEventsItMissed() async {
        let hub = EventHub()
        let slow = ClusterEvents(hub: hub, capacity: 2)
        let fast = ClusterEvents(hub: hub, capacity: 10)
        let events = (1...5).map { ClusterEvent.missed($0 * 100) }  // any distinct events
        for event in events { hub.yield(event) }
        hub.finish()
        var slowSeen = [ClusterEvent]()
        for await event in slow { slowSeen.append(event) }
        var fastSeen = [ClusterEvent]()
        for await event in fast { fastSeen.append(event) }
        #expect(slowSeen == [.missed(3), events[3], events[4]])
        #expect(fastSeen == events, "another consumer's buffer is its own")
    }

    /// A consumer waiting for an event is woken by cancellation, and a subscription taken after the node stopped
    /// ends at once.
    @Test func eventIterationEndsOnCancellationAndAfterStop() async {
        let hub = EventHub()
        let waiting = Task { () -> ClusterEvent? in
            var iterator = ClusterEvents(hub: hub, capacity: 4).makeAsyncIterator()
            return await iterator.next()
        }
        try? await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        let woken = await Self.within(10, "a cancelled consumer") { await waiting.value }
        #expect(woken == .some(nil))
        hub.finish()
        var late = ClusterEvents(hub: hub, capacity: 4).makeAsyncIterator()
        #expect(await late.next() == nil)
    }

    /// `run()` keeps the node until its task is cancelled, then leaves gracefully: the peer sees it leave.
    @Test func runLeavesGracefullyWhenItsTaskIsCancelled() async throws {
        let multicast = Self.uniqueMulticast()
        let n1 = try await ClusterNode.start(Self.settings("n1", multicast: multicast))
        let n2 = try await ClusterNode.start(Self.settings("n2", multicast: multicast))
        _ = try await Self.awaitMembership([n1, n2])
        let running = Task { await n2.run() }
        try await Task.sleep(for: .milliseconds(200))
        let login = try await n2.create { $0.set("user", "alice") }
        running.cancel()
        _ = await Self.within(10, "run() after cancellation") { await running.value }
        await #expect(throws: SessionError.shuttingDown) { _ = try await n2.read(login.id, token: nil) }
        try await Self.eventually("n1 saw n2 leave") {
            await n1.members().first { $0.info.name == "n2" }.map { $0.status != .alive } ?? true
        }
        await n1.shutdown()
    }

    /// `Codable` attributes go in as JSON and come back as the same value; a body's own error aborts the update
    /// and reaches the caller as `.aborted(error)`, with nothing committed.
    @Test func codableAttributesAndABodysOwnError() async throws {
        let node = try await ClusterNode.start(Self.settings("n1", multicast: Self.uniqueMulticast()))
        let cart = Cart(items: ["book"], total: 12.5)
        let login = try await node.create { changes in
            changes.set("user", "alice")
            try changes.set("cart", cart)
        }
        let read = try await node.read(login.id, token: login.version)
        #expect(try read.decode(Cart.self, "cart") == cart)
        #expect(try read.decode(Cart.self, "missing") == nil)
        #expect(throws: SessionError.self) { _ = try read.decode(Int.self, "cart") }
        #expect(read.string("user") == "alice")

        do {
            _ = try await node.update(login.id, token: read.version) { session, changes in
                var updated = try session.decode(Cart.self, "cart") ?? Cart(items: [], total: 0)
                updated.items.append("lamp")
                try changes.set("cart", updated)
                throw OutOfStock(item: "lamp")
            }
            Issue.record("the update should have failed")
        } catch .aborted(let error as OutOfStock) {
            #expect(error == OutOfStock(item: "lamp"))
        } catch {
            Issue.record("expected .aborted(OutOfStock), got \(error)")
        }
        #expect(try await node.read(login.id, token: nil).decode(Cart.self, "cart") == cart, "nothing committed")
        await #expect(throws: SessionError.self) {
            _ = try await node.update(login.id, token: nil) { _, changes in try changes.set("bad", Double.nan) }
        }
        await node.shutdown()
    }

    /// A session named by the caller: `create(id:)` refuses a live one, `creatingIfAbsent` creates or updates it,
    /// and a peer derives the same id from the same name.
    @Test func namedSessionsCreateOnceAndUpsert() async throws {
        let multicast = Self.uniqueMulticast()
        let n1 = try await ClusterNode.start(Self.settings("n1", ack: .sync, multicast: multicast))
        let n2 = try await ClusterNode.start(Self.settings("n2", ack: .sync, multicast: multicast))
        _ = try await Self.awaitMembership([n1, n2])
        let id = SessionID(name: "hbs.some-store-key")
        #expect(id == SessionID(forKey: Array("hbs.some-store-key".utf8)))
        #expect(id != SessionID(name: "hbs.other-key"))
        _ = try await n1.create(id: id) { $0.set("value", "1") }
        await #expect(throws: SessionError.alreadyExists) { _ = try await n1.create(id: id) { $0.set("value", "2") } }
        let other = SessionID(name: "hbs.upserted")
        let created = try await n2.update(other, token: nil, creatingIfAbsent: true) { session, changes in
            changes.set("value", "first")
            return session.attributes.isEmpty
        }
        #expect(created.value, "the body saw an empty session")
        let updated = try await n1.update(other, token: created.version, creatingIfAbsent: true) { session, changes in
            changes.set("value", "second")
            return session.string("value")
        }
        #expect(updated.value == "first")
        #expect(try await n2.read(other, token: updated.version).string("value") == "second")
        #expect(try await n2.read(id, token: nil).string("value") == "1")
        await n2.shutdown()
        await n1.shutdown()
    }

    /// What adapters read off a session and an error: text attributes, the expiry as a `Duration`, the HTTP status.
    @Test func snapshotsAndErrorsSpeakAdapterTerms() async throws {
        let node = try await ClusterNode.start(Self.settings("n1", multicast: Self.uniqueMulticast()))
        let login = try await node.create { changes in
            changes.set("user", "alice")
            changes.set("raw", [0xFF])
            changes.setMaxInactive(.milliseconds(1_500))
        }
        let read = try await node.read(login.id, token: login.version)
        #expect(read.strings() == ["user": "alice", "raw": "\u{FFFD}"])
        #expect(read.maxInactiveSeconds == 2, "rounded up to whole seconds")
        #expect(read.maxInactive == .seconds(2))
        let forever = try await node.update(login.id, token: nil) { _, changes in changes.setMaxInactive(seconds: 0) }
        #expect(try await node.read(login.id, token: forever.version).maxInactive == nil)
        var changes = SessionChanges()
        changes.setMaxInactive(.zero)
        changes.setMaxInactive(.seconds(-5))
        #expect(changes.changes == [.setMaxInactive(seconds: 1), .setMaxInactive(seconds: 1)])
        await node.shutdown()

        #expect(SessionError.notFound.httpStatus == 401 && !SessionError.notFound.retryable)
        #expect(SessionError.unavailable.httpStatus == 503 && SessionError.unavailable.retryable)
        #expect(SessionError.tooLarge.httpStatus == 413)
        #expect(SessionError.alreadyExists.httpStatus == 409)
        #expect(SessionError.aborted(OutOfStock(item: "x")).httpStatus == 500)
    }

    /// A named session emptied (a key-value store's `remove`) can be set again at once; one that ended cannot.
    @Test func anEmptiedNamedSessionIsSetAgainAnEndedOneIsNot() async throws {
        let node = try await ClusterNode.start(Self.settings("n1", multicast: Self.uniqueMulticast()))
        let key = SessionID(name: "store.key")
        _ = try await node.update(key, token: nil, creatingIfAbsent: true) { _, changes in changes.set("value", "1") }
        _ = try await node.update(key, token: nil) { held, changes in
            for name in held.attributes.keys { changes.remove(name) }
        }
        #expect(try await node.read(key, token: nil).attributes.isEmpty)
        let again = try await node.update(key, token: nil, creatingIfAbsent: true) { held, changes in
            changes.set("value", "2")
            return held.attributes.isEmpty
        }
        #expect(again.value)
        #expect(try await node.read(key, token: nil).string("value") == "2")
        try await node.invalidate(key, token: nil)
        await #expect(throws: SessionError.notFound) {
            _ = try await node.update(key, token: nil, creatingIfAbsent: true) { _, changes in changes.set("v", "3") }
        }
        await node.shutdown()
    }

    /// Strings and bytes are stored as they are whichever `set` overload the compiler picks, and `decode` reads
    /// them back as stored (a fresh-eyes finding: `try set("k", Array("hi".utf8))` stored the JSON `[104,105]`).
    @Test func stringsAndBytesAreStoredRawThroughEitherOverload() throws {
        func viaCodable<Value: Encodable>(_ changes: inout SessionChanges, _ name: String, _ value: Value) throws {
            try changes.set(name, value)
        }
        var changes = SessionChanges()
        try changes.set("bytes", Array("hi".utf8))
        try viaCodable(&changes, "text", "hé")
        try viaCodable(&changes, "raw", [UInt8]([0xFF, 0x00]))
        #expect(
            changes.changes == [
                .set(name: "bytes", value: Array("hi".utf8)), .set(name: "text", value: Array("hé".utf8)),
                .set(name: "raw", value: [0xFF, 0x00]),
            ])
        var snapshot = SessionSnapshot(empty: SessionID(high: 1, low: 1))
        snapshot.attributes = ["text": Array("hé".utf8), "raw": [0xFF, 0x00], "json": Array("[1,2]".utf8)]
        #expect(try snapshot.decode(String.self, "text") == "hé")
        #expect(try snapshot.decode([UInt8].self, "raw") == [0xFF, 0x00])
        #expect(try snapshot.decode([Int].self, "json") == [1, 2])
        #expect(throws: SessionError.self) { _ = try snapshot.decode(String.self, "raw") }
    }

    /// Settings an embedder can get wrong are refused at start with the setting named, not accepted to fail
    /// silently later (a 70,000-byte name broke membership without a word; a unicast "group" failed in `bind`).
    @Test func badSettingsAreRefusedWithTheSettingNamed() async {
        func refusal(_ change: (inout ClusterNodeSettings) -> Void) async -> String? {
            var settings = Self.settings("n1", multicast: Self.uniqueMulticast())
            change(&settings)
            do {
                let node = try await ClusterNode.start(settings)
                await node.shutdown()
                return nil
            } catch .invalidSettings(let error) {
                return error.keyPath
            } catch {
                return "other: \(error)"
            }
        }
        #expect(await refusal { $0.name = "" } == "name")
        #expect(await refusal { $0.name = String(repeating: "n", count: 70_000) } == "name")
        #expect(await refusal { $0.cluster = "" } == "cluster")
        #expect(await refusal { $0.maxSessions = 0 } == "maxSessions")
        #expect(await refusal { $0.replication.defaultMaxInactiveSeconds = -1 } == "replication.defaultMaxInactiveSeconds")
        #expect(await refusal { $0.multicast?.group = "127.0.0.2" } == "multicast.group")
        #expect(await refusal { $0.multicast?.interface = "localhost" } == "multicast.interface")
        #expect(await refusal { _ in } == nil)
    }

    /// A body that holds the loop (it should not: the whole node waits) is named in a warning.
    @Test func aSlowUpdateBodyIsLoggedAsAWarning() async throws {
        let records = Mutex<[LogRecord]>([])
        var settings = Self.settings("n1", multicast: Self.uniqueMulticast())
        settings.logHandler = { record in records.withLock { $0.append(record) } }
        let node = try await ClusterNode.start(settings)
        let login = try await node.create { $0.set("user", "alice") }
        _ = try await node.update(login.id, token: login.version) { _, changes in
            Thread.sleep(forTimeInterval: 0.15)
            changes.set("cart", "1")
        }
        await node.shutdown()
        let warning = records.withLock { $0.first { $0.message == "an update body held the node's loop" } }
        #expect(warning?.level == .warning)
        #expect(warning.flatMap { $0[field: "ms"] }.flatMap { Int($0) }.map { $0 >= 150 } == true)
    }
}
