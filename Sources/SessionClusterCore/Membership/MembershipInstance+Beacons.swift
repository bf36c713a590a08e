extension MembershipInstance {
    /// Handles a beacon from the network: the sender's own news first, then its gossip.
    ///
    /// Ignored entirely: other clusters and nodes with another number of shards (`admits`), my own id, a sequence not above the last one seen from that
    /// incarnation (replay or reorder), and beacons from members that left or were replaced by a restart.
    package mutating func onBeacon(_ beacon: Beacon, now: Timestamp) -> [MembershipDirective] {
        let sender = beacon.sender
        guard admits(beacon), sender.id != me.id else { return [] }
        if let record = records[sender.id] {
            if let last = record.lastSequence, beacon.sequence <= last { return [] }
            if record.member.status == .leaving { return [] }
            if record.superseded {
                // Set aside for a later process of its name. Once no process of that name is live (the later one
                // was killed, say), this one, still talking first hand, takes its name back at once rather than when
                // the dead entries are forgotten a minute later (fresh-eyes review).
                let name = sender.name
                guard !records.values.contains(where: { $0.member.info.name == name && $0.member.isPeer }) else {
                    return []
                }
                records[sender.id]?.superseded = false
            }
        }
        var directives = onSenderNews(beacon, now: now)
        for entry in beacon.members where entry.member.id != sender.id {
            directives += onGossip(entry, now: now)
        }
        return directives
    }

    /// What the sender says about itself: join, restart, recovery, or leaving.
    private mutating func onSenderNews(_ beacon: Beacon, now: Timestamp) -> [MembershipDirective] {
        let sender = beacon.sender
        guard var record = records[sender.id] else {
            // Never seen, and already going: nothing to announce, it will not be around.
            guard beacon.status != .leaving else { return [] }
            // My own name from another process (the shell logs it), or an earlier start than a live incarnation
            // known under that name: a replayed recording of an earlier run, or the older of two processes with one
            // name. Neither may replace the one running now (`NodeID` orders by start time). Once the later one is
            // gone, an earlier start may take the name: a restart after the clock was set back.
            guard sender.name != me.name,
                !records.values.contains(where: {
                    $0.member.info.name == sender.name && $0.member.info.id > sender.id && $0.member.isPeer
                })
            else { return [] }
            // One name runs one process at a time, so a later id under a known name is a restart.
            var directives: [MembershipDirective] = []
            // Older incarnations that already died are marked too, so a late datagram cannot recover them.
            for id in orderedIDs where records[id]?.member.info.name == sender.name {
                directives += transition(id, to: .dead, now: now)
                records[id]?.superseded = true
            }
            return directives + admit(sender, direct: true, sequence: beacon.sequence, now: now)
        }
        record.lastSequence = beacon.sequence
        record.refused = false
        record.member.info = sender
        record.member.lastHeard = now
        record.member.heardDirectly = true
        records[sender.id] = record
        return transition(sender.id, to: beacon.status == .leaving ? .leaving : .alive, now: now)
    }

    /// Second-hand news. It introduces members this node missed and relays departures, but never overrides
    /// what this node heard directly: it does not refresh `lastHeard` (a member known only by gossip still
    /// times out), does not recover anyone, and cannot bring back a dead or left incarnation.
    private mutating func onGossip(_ entry: GossipEntry, now: Timestamp) -> [MembershipDirective] {
        let info = entry.member
        guard info.id != me.id else { return [] }
        if let known = records[info.id] {
            // A departure is news only about a live member; a dead one already had its event.
            return entry.status == .leaving && known.member.isPeer ? transition(info.id, to: .leaving, now: now) : []
        }
        // Only a member the gossiper sees as alive is worth introducing; a suspect one is likely on its way out.
        guard entry.status == .alive else { return [] }
        // A live member (or I) under the same name: a direct beacon will settle which incarnation runs (see the
        // restart rule). Nor is an incarnation older than one known under its name introduced.
        let nameTaken = records.values.contains {
            $0.member.info.name == info.name && ($0.member.isPeer || $0.member.info.id > info.id)
        }
        guard info.name != me.name, !nameTaken else { return [] }
        return admit(info, direct: false, sequence: nil, now: now)
    }

    /// A beacon with the next sequence, addressed to the multicast group and to the unicast destinations.
    ///
    /// Gossip lists alive and suspect members, plus members known to have left (as `.leaving`) so peers that
    /// missed the leaving beacon drop them too, plus members dead by time-out while remembered (as `.dead`; not
    /// those replaced by a restart or refusing connections): a node that never saw them (started into a
    /// partition) learns that they may still be out there holding sessions, so it answers their clients 503,
    /// not "lost". Receivers never admit a member from a `.dead` entry. Returns nothing when there is nowhere
    /// to send (a lone node).
    mutating func beaconDirective(status: MemberStatus) -> [MembershipDirective] {
        let destinations = unicastDestinations
        guard settings.multicast || !destinations.isEmpty else { return [] }
        sequence += 1
        let gossip = members.compactMap { member -> GossipEntry? in
            if member.status == .dead, let record = records[member.info.id], record.superseded || record.refused {
                return nil
            }
            return GossipEntry(member: member.info, status: member.status)
        }
        let beacon = Beacon(
            cluster: cluster, shards: shards, sender: me, status: status, sequence: sequence, members: gossip)
        return [.sendBeacon(beacon, multicast: settings.multicast, unicast: destinations)]
    }

    /// Every seed, plus (when `unicastToMembers` is in effect) every live member's replication address;
    /// never my own address; deduplicated and sorted.
    var unicastDestinations: [String] {
        var addresses = Set(settings.seeds)
        if settings.effectiveUnicastToMembers {
            addresses.formUnion(members.filter(\.isPeer).map(\.info.replication))
        }
        addresses.remove(me.replication)
        return addresses.sorted()
    }
}
