/// What the shell must do on behalf of `MembershipInstance`.
package enum MembershipDirective: Hashable, Sendable {
    /// Send `beacon` to the multicast group when `multicast` is true, and as a unicast datagram to each
    /// `host:port` in `unicast` (deduplicated, sorted, never this node's own address).
    case sendBeacon(Beacon, multicast: Bool, unicast: [String])
    /// Publish a membership change to observers (log it, update replication peers and the hash ring).
    case event(MembershipEvent)
}
