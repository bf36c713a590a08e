/// A change of one member's state, as SWIM disseminates it: piggybacked on probes, gossiped, and sent whole in a
/// push-pull.
package struct SwimUpdate: Hashable, Sendable {
    package var member: MemberInfo
    /// The member's incarnation: only the member raises it, to refute a suspicion.
    package var incarnation: UInt64
    /// `.alive`, `.suspect`, `.dead` or `.leaving`.
    package var status: MemberStatus
    /// Who suspects it (Lifeguard counts independent confirmations); the sender's own id otherwise.
    package var origin: NodeID

    package init(member: MemberInfo, incarnation: UInt64, status: MemberStatus, origin: NodeID) {
        self.member = member
        self.incarnation = incarnation
        self.status = status
        self.origin = origin
    }
}

/// One member in a push-pull digest: enough for the receiver to tell whether it knows more or less about it
/// (10 bytes a member on the wire, against about 50 for a whole `SwimUpdate`).
package struct SwimDigestEntry: Hashable, Sendable {
    package var id: NodeID
    package var incarnation: UInt64
    package var status: MemberStatus

    package init(id: NodeID, incarnation: UInt64, status: MemberStatus) {
        self.id = id
        self.incarnation = incarnation
        self.status = status
    }
}

/// One SWIM membership datagram. Every datagram names its sender and the sender's incarnation (a receiver learns
/// of a member from any datagram of it), carries its kind and as many pending changes as fit the byte budget.
package struct SwimDatagram: Hashable, Sendable {
    package enum Kind: Hashable, Sendable {
        /// A new node (or a node leaving, or refuting) tells everyone at once: multicast, or the seeds.
        case announce
        /// Changes only, to a few random members (`gossipFanout` every `gossipIntervalMillis`).
        case gossip
        /// Are you there? Answered by `ack` with the same sequence.
        case ping(sequence: UInt64)
        /// Please ping `target` and acknowledge `sequence` to me if it answers; `nack` if it does not.
        case pingRequest(sequence: UInt64, target: MemberInfo)
        case ack(sequence: UInt64)
        /// An indirect probe got no answer from the target: tells the prober its own network works (Lifeguard).
        case nack(sequence: UInt64)
        /// One chunk of the sender's whole state; `reply` asks the receiver to send its own back (push-pull).
        case state(reply: Bool)
        /// The periodic push-pull: the sender's members with ids in `from...through`, in id order, as digests (each
        /// chunk self-contained: a member of the receiver's in that range but not listed is one the sender lacks).
        /// The receiver answers with `state(reply: false)` whole entries where it knows more, and a `pull` of those
        /// where the sender knows more.
        case digest(from: NodeID, through: NodeID, entries: [SwimDigestEntry])
        /// Asks for the whole entries of these members: answered with `state(reply: false)`.
        case pull(ids: [NodeID])
    }

    package var cluster: String
    package var shards: Int
    package var sender: MemberInfo
    package var senderIncarnation: UInt64
    package var kind: Kind
    package var updates: [SwimUpdate]

    package init(
        cluster: String, shards: Int, sender: MemberInfo, senderIncarnation: UInt64, kind: Kind,
        updates: [SwimUpdate]
    ) {
        self.cluster = cluster
        self.shards = shards
        self.sender = sender
        self.senderIncarnation = senderIncarnation
        self.kind = kind
        self.updates = updates
    }
}

/// What the shell does for `SwimInstance`.
package enum SwimDirective: Hashable, Sendable {
    /// Send `datagram` to the multicast group when `multicast`, and to each `host:port` of `unicast`.
    case send(SwimDatagram, multicast: Bool, unicast: [String])
    case event(MembershipEvent)
}
