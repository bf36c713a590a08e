import SessionClusterCore

/// What the runtime remembers about peers beside membership: the addresses peers gave in their hellos (before
/// membership knows them) and when a refusing peer may be dialled again. Both tables are keyed by ids that
/// peers choose, so both are bounded: a hello goes when membership takes the peer over or drops it, a hello
/// table past its capacity forgets the least recently introduced, and expired redial bans are swept.
struct PeerDirectory {
    /// Most hellos remembered for peers membership does not know.
    static let maxIntroduced = 256
    /// Past this many redial bans, expired ones are swept (and past twice it, the oldest go).
    static let maxRedialBans = 256

    private var introduced = RecentTable<NodeID, MemberInfo>(capacity: Self.maxIntroduced)
    private var redialAfter: [NodeID: Int64] = [:]
    /// Links to a peer that it closed right after they opened, in a row (`linkEnded`).
    private var shortLinks: [NodeID: Int] = [:]

    /// Entries held (tests of the bounds).
    var counts: (introduced: Int, redialBans: Int) { (introduced.count, redialAfter.count) }

    /// The address `peer` gave in its hello, if remembered.
    func introduction(_ peer: NodeID) -> MemberInfo? { introduced.peek(peer) }

    /// Remembers the hello of `member` (its link authenticated as that id).
    mutating func introduce(_ member: MemberInfo) { introduced.set(member.id, member) }

    /// Whether `peer` may be dialled at monotonic time `nowMillis`.
    func mayDial(_ peer: NodeID, nowMillis: Int64) -> Bool { redialAfter[peer].map { nowMillis >= $0 } ?? true }

    /// `peer` refused a connection: no redial before `untilMillis` (monotonic).
    mutating func refused(_ peer: NodeID, untilMillis: Int64, nowMillis: Int64) {
        if redialAfter[peer] == nil, redialAfter.count >= Self.maxRedialBans {
            redialAfter = redialAfter.filter { $0.value > nowMillis }
            while redialAfter.count >= 2 * Self.maxRedialBans,
                let oldest = redialAfter.min(by: { $0.value < $1.value })
            {
                redialAfter[oldest.key] = nil
            }
        }
        redialAfter[peer] = untilMillis
    }

    /// Our link to `peer` ended (lost); `short`: the peer closed it right after it opened. True when that is the
    /// second such link in a row: a peer that keeps closing our links at once (it refuses our hello — another number
    /// of loops, say) must not be redialled as fast as the two loops can go. The first short loss is not enough: a
    /// peer that crashed moments after the link opened is probed at once (its refused port is the evidence).
    mutating func linkEnded(_ peer: NodeID, short: Bool) -> Bool {
        guard short else {
            shortLinks[peer] = nil
            return false
        }
        if shortLinks[peer] == nil, shortLinks.count >= Self.maxRedialBans { shortLinks = [:] }
        shortLinks[peer, default: 0] += 1
        return shortLinks[peer]! >= 2
    }

    /// Membership took `peer` over (joined) or dropped it (dead, left): its hello is not needed any more. (A
    /// redial ban stays until it expires: a dead peer's port keeps refusing.)
    mutating func forgetIntroduction(_ peer: NodeID) { introduced.remove(peer) }
}
