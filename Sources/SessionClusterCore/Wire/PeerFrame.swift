/// One frame's content, as exchanged between peers: a link greeting, a replication message or a beacon.
///
/// `WireCodec.frame(_:)` writes it behind a `Frame` header; `WireCodec.decodeFrame(_:limit:)` and
/// `FrameDecoder` read it back.
package enum PeerFrame: Hashable, Sendable {
    /// The first frame on a TCP link.
    case hello(PeerHello)
    /// Replication traffic on a TCP link.
    case replication(ReplicationMessage)
    /// A membership datagram.
    case beacon(Beacon)
    /// The sender's wall clock (microseconds since the epoch) when it queued the next frame on this link: a
    /// sample of replication lag for the receiver (meaningful when both clocks agree, e.g. on one host).
    case clock(UInt64)
    /// A SWIM membership datagram (nodes whose `membership.protocol` is `swim`).
    case swim(SwimDatagram)

    /// The header kind of this frame.
    package var kind: Frame.Kind {
        switch self {
        case .hello: .hello
        case .replication: .replication
        case .beacon: .beacon
        case .clock: .clock
        case .swim: .swim
        }
    }
}
