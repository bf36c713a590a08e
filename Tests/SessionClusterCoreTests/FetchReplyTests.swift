import SessionClusterCore
import Testing

/// A fetch moves on to its next candidate only on the answer of the member it is asking (or that member's time-out
/// or departure). A reply from a member asked before — delivered twice, or arriving after the news of its sender's
/// departure — once stood for the current member's answer: the pass ended while the member holding the session had
/// not answered yet, and a live session was answered lost, 401, in `sync` mode (simulator seed
/// `backup-sync-536262205515`: a duplicated "not here" skipped the member that held it).
@Suite struct FetchReplyTests {
    let id = sessionID(21)

    /// Three nodes in backup mode, membership settled; the session created on the ring's second member (so the
    /// ring-first holds the backup copy) and requested, with the creator's token, on the third, which holds nothing.
    /// The first two passes of its fetch meet only "not here" answers (as if the session moved meanwhile); returns
    /// with the last pass's fetch to the creator in flight.
    func lastPassUnderWay() throws -> (ReplicationCluster, creator: NodeID, backup: NodeID, outsider: NodeID) {
        var cluster = ReplicationCluster(count: 3, settings: .unitTest(.backup))
        let owners = cluster.ring.owners(of: id)
        let (backup, creator, outsider) = (owners[0], owners[1], owners[2])
        let created = cluster.create(id, on: creator, setting(["user": "alice"]))
        cluster.deliverAll()
        try #require(cluster.holders(of: id) == [backup, creator].sorted())
        cluster.advance(3_000)  // membership has settled: "nobody live has it" may be concluded
        cluster.outputs = [:]

        cluster.access(id, on: outsider, token: created.version, ticket: 1)
        let (passes, candidates) = (3, 2)  // `ReplicationInstance.fetchRounds`; the creator, then the backup
        for _ in 0..<(passes - 1) * candidates {
            let fetch = try #require(cluster.take { $0.from == outsider }.first)
            let request = try #require(fetch.fetchRequest, "expected a fetch, got \(fetch.message)")
            cluster.receive(.fetchReply(request, id, nil, nil), at: outsider, from: fetch.to)
        }
        try #require(cluster.outputs[outsider] == nil, "answered before the last pass")
        try #require(cluster.inFlight.map(\.to) == [creator], "the last pass asks the token's writer first")
        return (cluster, creator, backup, outsider)
    }

    @Test func aDuplicatedNotHereDoesNotStandForTheNextMembersAnswer() throws {
        let (start, creator, backup, outsider) = try lastPassUnderWay()
        var cluster = start
        let fetch = try #require(cluster.take { $0.from == outsider }.first)
        let request = try #require(fetch.fetchRequest)
        let notHere = ReplicationMessage.fetchReply(request, id, nil, nil)
        cluster.receive(notHere, at: outsider, from: creator)
        #expect(cluster.inFlight.contains { $0.from == outsider && $0.to == backup && $0.message.isFetch })

        cluster.receive(notHere, at: outsider, from: creator)  // the network delivers it twice
        #expect(cluster.outputs[outsider] == nil, "the backup, holding the session, has not answered yet")

        cluster.deliverAll()
        #expect(cluster.outputs[outsider]?.first?.isAccessReady == true)
        #expect(cluster[outsider].counters.sessionsLost == 0)
    }

    @Test func aReplyOvertakenByItsSendersDepartureDoesNotStandForTheNextMembersAnswer() throws {
        let (start, creator, backup, outsider) = try lastPassUnderWay()
        var cluster = start
        let fetch = try #require(cluster.take { $0.from == outsider }.first)
        let request = try #require(fetch.fetchRequest)
        // The creator leaves (handing its copy off) after answering; its leaving beacon overtakes the answer.
        cluster.nodes[outsider]!.onDeparted(creator)
        cluster.setMembers(of: outsider, to: [outsider, backup])
        #expect(cluster.inFlight.contains { $0.from == outsider && $0.to == backup && $0.message.isFetch })

        cluster.receive(.fetchReply(request, id, nil, nil), at: outsider, from: creator)
        #expect(cluster.outputs[outsider] == nil, "the backup, holding the session, has not answered yet")

        cluster.deliverAll(where: { $0.to != creator })
        #expect(cluster.outputs[outsider]?.first?.isAccessReady == true)
        #expect(cluster[outsider].counters.sessionsLost == 0)
    }
}

extension Envelope {
    /// The request id when this carries a fetch.
    var fetchRequest: RequestID? {
        if case .fetch(let request, _, _) = message { request } else { nil }
    }
}
