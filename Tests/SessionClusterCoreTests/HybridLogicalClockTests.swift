import SessionClusterCore
import Testing

@Suite struct HybridLogicalClockTests {
    let n1 = NodeID(rawValue: 1)
    let n2 = NodeID(rawValue: 2)

    @Test func tickFollowsPhysicalTimeWhenItAdvances() {
        var clock = HybridLogicalClock()
        #expect(clock.tick(now: Timestamp(millis: 100)) == HLCTimestamp(wall: 100, logical: 0))
        #expect(clock.tick(now: Timestamp(millis: 250)) == HLCTimestamp(wall: 250, logical: 0))
        #expect(clock.last == HLCTimestamp(wall: 250, logical: 0))
    }

    @Test func tickStrictlyIncreasesWhenPhysicalTimeStandsStill() {
        var clock = HybridLogicalClock()
        var previous = clock.tick(now: Timestamp(millis: 500))
        for _ in 0..<100 {
            let next = clock.tick(now: Timestamp(millis: 500))
            #expect(next > previous)
            #expect(next.wall == 500)
            previous = next
        }
        #expect(previous == HLCTimestamp(wall: 500, logical: 100))
    }

    @Test func tickStrictlyIncreasesWhenPhysicalTimeGoesBackwards() {
        var clock = HybridLogicalClock()
        var previous = clock.tick(now: Timestamp(millis: 10_000))
        var generator = SplitMix64(seed: 3)
        for _ in 0..<500 {
            // Jumps of up to ±5 s, mostly backwards.
            let now = Timestamp(millis: 10_000 + Int64(generator.next() % 10_000) - 7_000)
            let next = clock.tick(now: now)
            #expect(next > previous)
            #expect(next.wall >= now.millis)
            previous = next
        }
    }

    @Test func logicalCounterOverflowCarriesIntoWall() {
        var clock = HybridLogicalClock()
        clock.observe(HLCTimestamp(wall: 7, logical: .max))
        #expect(clock.tick(now: Timestamp(millis: 7)) == HLCTimestamp(wall: 8, logical: 0))
    }

    @Test func observedRemoteReadingIsExceededByTheNextTick() {
        var clock = HybridLogicalClock()
        _ = clock.tick(now: Timestamp(millis: 1_000))
        // A peer whose clock runs 5 s ahead.
        let remote = HLCTimestamp(wall: 6_000, logical: 3)
        clock.observe(remote)
        let next = clock.tick(now: Timestamp(millis: 1_001))
        #expect(next > remote)
        #expect(next == HLCTimestamp(wall: 6_000, logical: 4))
        // Once physical time passes the remote reading, the clock follows physical time again.
        #expect(clock.tick(now: Timestamp(millis: 7_000)) == HLCTimestamp(wall: 7_000, logical: 0))
    }

    @Test func observingAnOlderReadingNeverMovesTheClockBack() {
        var clock = HybridLogicalClock()
        let reading = clock.tick(now: Timestamp(millis: 2_000))
        clock.observe(HLCTimestamp(wall: 1_000, logical: 9))
        #expect(clock.last == reading)
        #expect(clock.tick(now: Timestamp(millis: 1_500)) > reading)
    }

    @Test func stampOrdersByTimeThenNode() {
        let early = HLCTimestamp(wall: 100, logical: 5)
        let late = HLCTimestamp(wall: 100, logical: 6)
        #expect(Stamp(time: early, node: n1) < Stamp(time: early, node: n2))
        #expect(!(Stamp(time: early, node: n2) < Stamp(time: early, node: n1)))
        // Time dominates the node tie-break.
        #expect(Stamp(time: early, node: n2) < Stamp(time: late, node: n1))
        #expect(Stamp(time: HLCTimestamp(wall: 99, logical: .max), node: n2) < Stamp(time: early, node: n1))
        #expect(Stamp(time: early, node: n1) == Stamp(time: early, node: n1))
        let sorted = [Stamp(time: late, node: n1), Stamp(time: early, node: n2), Stamp(time: early, node: n1)].sorted()
        #expect(sorted == [Stamp(time: early, node: n1), Stamp(time: early, node: n2), Stamp(time: late, node: n1)])
    }
}
