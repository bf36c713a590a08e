import HTTPFrontEnd
import SessionCluster
import TestSupport
import Testing

/// `/healthz` is what a load balancer asks before it sends a node clients.
@Suite struct SessionRoutesHealthTests {
    /// Two processes under one name (a copied config, say): the cluster takes the later one for the node and
    /// ignores the earlier, whose sessions would reach no peer. Its `/healthz` says so with a 503 (it said `ok`:
    /// fresh-eyes finding), and the later one's stays 200.
    @Test func aProcessDisplacedByALaterOneOfItsNameIsNotHealthy() async throws {
        func settings(seeds: [String]) -> ClusterNodeSettings {
            var settings = ClusterNodeSettings(cluster: "health-test", name: "n2")
            settings.secret = "health route test secret of at least thirty-two bytes"
            settings.multicast = nil
            settings.membership.heartbeatMillis = 100
            settings.membership.seeds = seeds
            settings.loops = TestLoops.count
            return settings
        }
        let earlier = try await ClusterNode.start(settings(seeds: []))
        let earlierRoutes = SessionRoutes(node: earlier)
        func health(_ routes: SessionRoutes) async throws -> (Int, String) {
            let request = try HTTPRequest(method: "GET", target: "/healthz", headers: [("Host", "t")])
            let response = await routes.handle(request)
            return (response.status, String(decoding: response.body, as: UTF8.self))
        }
        #expect(try await health(earlierRoutes) == (200, "ok\n"))
        // The later process beacons to the earlier one's address (as a seed), so the earlier hears its own name.
        let later = try await ClusterNode.start(settings(seeds: [earlier.me.replication]))
        let start = ContinuousClock.now
        var answer = try await health(earlierRoutes)
        while answer.0 == 200 && ContinuousClock.now - start < .seconds(5) {
            try await Task.sleep(for: .milliseconds(20))
            answer = try await health(earlierRoutes)
        }
        #expect(answer.0 == 503)
        #expect(answer.1.hasPrefix("not serving: another process named n2 started after this one"))
        #expect(try await health(SessionRoutes(node: later)) == (200, "ok\n"))
        await later.shutdown()
        await earlier.shutdown()
    }
}
