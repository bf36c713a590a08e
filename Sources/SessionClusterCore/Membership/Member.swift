/// One other node incarnation as this node's membership sees it.
///
/// `status` is `.alive` or `.suspect` for a live member, `.dead` for one that timed out, was refused or was
/// replaced by a restart, and `.leaving` for one that left gracefully. Dead and left members stay visible for
/// `MembershipSettings.deadRetentionMillis`, then are forgotten.
public struct Member: Hashable, Sendable {
    /// Identity and endpoints, as last announced.
    public var info: MemberInfo
    /// Current status; `.leaving` means the member has left.
    public var status: MemberStatus
    /// When this node last heard from the member directly, or learned of it through gossip if it never has.
    public var lastHeard: Timestamp
    /// Whether any beacon from the member itself has arrived (rather than only gossip about it).
    public var heardDirectly: Bool

    /// A member snapshot.
    public init(info: MemberInfo, status: MemberStatus, lastHeard: Timestamp, heardDirectly: Bool) {
        self.info = info
        self.status = status
        self.lastHeard = lastHeard
        self.heardDirectly = heardDirectly
    }

    /// Whether replication should keep sending to the member: it is alive or merely suspect.
    public var isPeer: Bool { status == .alive || status == .suspect }
}
