import SessionClusterCore
import Testing

/// Incarnation ids order by start time, so membership can tell the later of two incarnations of one name.
@Suite struct NodeIDTests {
    let noon = Timestamp(millis: 1_795_000_000_000)

    @Test func idsOrderByStartTimeWhateverTheirRandomBits() {
        var random = SplitMix64(seed: 7)
        for step in [1, 2, 1_000, 86_400_000] as [Int64] {
            for _ in 0..<200 {
                let earlier = NodeID(started: noon, using: &random)
                let later = NodeID(started: noon.adding(millis: step), using: &random)
                #expect(earlier < later)
                #expect(earlier.started == noon && later.started == noon.adding(millis: step))
            }
        }
    }

    @Test func twoIdsOfOneMillisecondDiffer() {
        var random = SplitMix64(seed: 9)
        let ids = (0..<1_000).map { _ in NodeID(started: noon, using: &random) }
        #expect(Set(ids).count == 1_000, "keys and nonces derive from the id: two nodes must never share one")
    }

    @Test func anIdIssuedAfterAnotherIsLaterEvenWithinItsMillisecondOrWithAClockSetBack() {
        var random = SplitMix64(seed: 11)
        var last = NodeID(started: noon, using: &random)
        for started in [noon, noon.adding(millis: -5_000), noon.adding(millis: 3)] {
            let next = NodeID(started: started, after: last, using: &random)
            #expect(next > last)
            last = next
        }
        #expect(NodeID(started: noon.adding(millis: 60_000), after: last, using: &random).started
            == noon.adding(millis: 60_000))
    }
}
