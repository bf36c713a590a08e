import SessionClusterCore
import Testing

@testable import SessionCluster

@Suite struct PeerDirectoryTests {
    static func member(_ id: UInt64) -> MemberInfo {
        MemberInfo(id: NodeID(rawValue: id), name: "n\(id)", replication: "127.0.0.1:\(id % 60_000)", http: "")
    }

    @Test func hellosFromManyDistinctIdsStayWithinTheCapAndKeepTheRecentOnes() {
        var directory = PeerDirectory()
        for id in 1...10_000 as ClosedRange<UInt64> { directory.introduce(Self.member(id)) }
        #expect(directory.counts.introduced == PeerDirectory.maxIntroduced)
        #expect(directory.introduction(NodeID(rawValue: 10_000))?.name == "n10000")
        #expect(directory.introduction(NodeID(rawValue: 1)) == nil)
        directory.forgetIntroduction(NodeID(rawValue: 10_000))
        #expect(directory.introduction(NodeID(rawValue: 10_000)) == nil)
    }

    @Test func redialBansExpireAndAreSweptPastTheCap() {
        var directory = PeerDirectory()
        let peer = NodeID(rawValue: 7)
        directory.refused(peer, untilMillis: 1_200, nowMillis: 1_000)
        #expect(!directory.mayDial(peer, nowMillis: 1_100))
        #expect(directory.mayDial(peer, nowMillis: 1_200))
        // 10,000 refusing ids over time: expired bans are swept, live ones capped.
        for index in 0..<10_000 {
            let now = 2_000 + Int64(index)
            directory.refused(NodeID(rawValue: 100 + UInt64(index)), untilMillis: now + 200, nowMillis: now)
        }
        #expect(directory.counts.redialBans <= 2 * PeerDirectory.maxRedialBans)
        // Even all live at once (a burst): capped.
        for index in 0..<10_000 {
            directory.refused(NodeID(rawValue: 50_000 + UInt64(index)), untilMillis: 99_999, nowMillis: 20_000)
        }
        #expect(directory.counts.redialBans <= 2 * PeerDirectory.maxRedialBans)
    }
}
