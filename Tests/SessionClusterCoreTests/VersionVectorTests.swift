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

    @Test func agreesWithADictionaryModelWhateverTheRaiseOrder() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<500 {
            var model = [NodeID: UInt64]()
            var vector = VersionVector()
            for _ in 0..<Int(random.next() % 6) {
                let node = NodeID(rawValue: random.next() % 5)
                let counter = random.next() % 4
                vector.raise(node, to: counter)
                if counter > 0 { model[node] = max(model[node] ?? 0, counter) }
            }
            let expected = model.sorted { $0.key < $1.key }.map { VersionVector.Entry(node: $0.key, counter: $0.value) }
            #expect(Array(vector.entries) == expected)
            #expect(vector.isEmpty == model.isEmpty)
            let rebuilt = VersionVector(model)
            #expect(vector == rebuilt && vector.hashValue == rebuilt.hashValue)
            for node in (0..<5).map({ NodeID(rawValue: $0) }) { #expect(vector[node] == model[node] ?? 0) }
        }
    }
}
