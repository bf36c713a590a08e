import SessionClusterCore
import Testing

/// Values and identities that come from peers are bounded and never trap, whatever the peer sends.
@Suite struct UntrustedInputTests {
    let n1 = ReplicationCluster.node(1)
    let n2 = ReplicationCluster.node(2)
    let id = sessionID(1)

    @Test func departedIncarnationsAreRememberedUpToTheCap() {
        var instance = ReplicationInstance(
            settings: .unitTest(), me: n1, key: "n1", now: Timestamp(millis: 1_700_000_000_000))
        for index in 0..<(ReplicationInstance.maxDeparted + 1_000) {
            instance.onDeparted(NodeID(rawValue: 1_000 + UInt64(index)))
        }
        #expect(instance.departedCount == ReplicationInstance.maxDeparted)
        instance.onDeparted(n1)  // itself: never
        #expect(instance.departedCount == ReplicationInstance.maxDeparted)
    }
}
