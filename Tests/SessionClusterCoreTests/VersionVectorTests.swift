import SessionClusterCore
import Testing

@Suite struct VersionVectorTests {
    let a = NodeID(rawValue: 1)
    let b = NodeID(rawValue: 2)
    let c = NodeID(rawValue: 3)

    @Test func compareReportsBeforeAfterEqualAndConcurrent() {
        let x = VersionVector([a: 1, b: 2])
        let y = VersionVector([a: 2, b: 2])
        let z = VersionVector([a: 1, b: 2, c: 1])
        #expect(x.compare(to: y) == .before)
        #expect(y.compare(to: x) == .after)
        #expect(x.compare(to: x) == .equal)
        #expect(y.compare(to: z) == .concurrent)
        #expect(VersionVector().compare(to: x) == .before)
    }

    @Test func mergeIsPointwiseMaximumAndCommutative() {
        let x = VersionVector([a: 3, c: 1])
        let y = VersionVector([a: 1, b: 5])
        let merged = x.merging(y)
        #expect(merged == VersionVector([a: 3, b: 5, c: 1]))
        #expect(merged == y.merging(x))
        #expect(merged.covers(x) && merged.covers(y))
        #expect(merged.dominates(x) && !x.dominates(merged))
    }

    @Test func coversDotOnlyUpToItsCounter() {
        let x = VersionVector([b: 2])
        #expect(x.covers(Dot(origin: b, counter: 2)))
        #expect(!x.covers(Dot(origin: b, counter: 3)))
        #expect(!x.covers(Dot(origin: a, counter: 1)))
    }

    @Test func entriesStaySortedAndZeroFree() {
        let pairs: [(NodeID, UInt64)] = [(c, 1), (a, 0), (b, 4), (c, 2)]
        var x = VersionVector(pairs)
        x.raise(a, to: 7)
        #expect(x.entries.map(\.node) == [a, b, c])
        #expect(x[c] == 2 && x.total == 13)
    }
}
