@_exported import SessionClusterCore

/// The I/O shell around `SessionClusterCore`: event loop, multicast membership, TCP peer links and the
/// embeddable `ClusterNode` API. Placeholder until the runtime issue lands.
public enum SessionClusterShell {
    /// The version of the wire protocol this build speaks.
    public static let wireVersion: UInt8 = 1
}
