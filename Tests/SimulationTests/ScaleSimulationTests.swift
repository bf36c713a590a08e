import SessionClusterCore
import SessionClusterSimulator
import Testing

/// The scale harness itself (issue 13): a small cluster through every phase, with figures that follow from the
/// protocol's settings, so a harness that stops delivering, detecting or counting fails here.
@Suite struct ScaleSimulationTests {
    @Test func beaconClusterOfSixteenGoesThroughEveryPhase() {
        let settings = MembershipSettings()
        let figures = ScaleScenario.run(BeaconScaleNode.self, name: "beacons", nodes: 16, settings: settings)
        #expect(figures.formedMillis.map { $0 < settings.heartbeatMillis + 100 } == true)
        // Every node multicasts one beacon per heartbeat and hears the other 15.
        #expect(abs(figures.datagramsOutPerNode - 2) < 0.1)
        #expect(abs(figures.datagramsInPerNode - 30) < 1)
        #expect(figures.largestDatagram > 16 * 40)
        // A multicast beacon reaches everyone in one hop; a refused link is noticed within a few round trips.
        #expect(figures.joinAll.map { $0 <= settings.heartbeatMillis + 50 } == true)
        #expect(figures.killAll.map { $0 < 50 } == true)
        // Silence: dead after `deadAfterMillis` since the last beacon heard.
        #expect(figures.silentAll.map { $0 <= settings.deadAfterMillis + 100 } == true)
        #expect(figures.healAll != nil)
        #expect(figures.falseDeaths == 0)
    }

    @Test func computedBeaconTrafficGrowsWithTheSquareOfTheCluster() {
        let small = ScaleScenario.beaconTrafficComputed(nodes: 16, settings: MembershipSettings())
        let large = ScaleScenario.beaconTrafficComputed(nodes: 1_024, settings: MembershipSettings())
        #expect(large.largestDatagram > 40_000)
        #expect(large.bytesInPerNode / small.bytesInPerNode > 1_000)
    }
}

@Suite struct SwimScaleTests {
    @Test func swimClusterOfSixtyFourMeetsTheTargets() {
        let figures = ScaleScenario.run(SwimScaleNode.self, name: "swim", nodes: 64, settings: MembershipSettings())
        print(ScaleFiguresText.row(figures))
        #expect(figures.formedMillis != nil)
        #expect(figures.largestDatagram <= 1_400)
        #expect(figures.joinAll.map { $0 <= 3_000 } == true)
        #expect(figures.killAll.map { $0 < 100 } == true)
        #expect(figures.silentMost.map { $0 <= 3_000 } == true)
        #expect(figures.falseDeaths == 0)
    }
}
