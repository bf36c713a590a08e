/// One copy of a session: its id, its replicated content and the version vector of the deltas it holds.
package struct Session: Hashable, Sendable {
    package var id: SessionID
    package var content: SessionContent
    package var version: VersionVector

    package init(id: SessionID, content: SessionContent, version: VersionVector) {
        self.id = id
        self.content = content
        self.version = version
    }

    /// About how many bytes the session takes on the wire (names, values, stamps and the vector), for sizing
    /// batches such as state-transfer chunks.
    package var estimatedBytes: Int {
        // The attribute buffer holds names, values and ~18 bytes of stamp and lengths per entry (the wire ~24),
        // so its size is the estimate; read without copying any value out.
        64 + 16 * version.entries.count + content.attributes.storedBytes
    }

    /// False once the session was logged out, expired or renamed anywhere the copy has heard of.
    package var isValid: Bool { content.invalidation == nil }

    /// An attribute's current value, nil when unset or removed.
    package func attribute(_ name: String) -> [UInt8]? { content.attributes[name]?.value ?? nil }

    /// Max inactive interval in seconds, falling back to `defaultSeconds` when never set.
    package func maxInactiveSeconds(default defaultSeconds: Int64) -> Int64 {
        content.maxInactive ?? defaultSeconds
    }

    /// The instant after which the session counts as expired, given the latest access this node knows of.
    /// A max-inactive of zero or less means "never expires".
    package func deadline(lastAccess: Timestamp, defaultMaxInactive: Int64) -> Timestamp {
        let seconds = maxInactiveSeconds(default: defaultMaxInactive)
        guard seconds > 0 else { return Timestamp(millis: .max) }
        let (millis, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return max(lastAccess, content.lastAccess).adding(millis: overflow ? .max : millis)
    }

    /// Joins another copy of the same session: content joined, versions merged.
    package mutating func merge(_ other: Session) {
        content.join(other.content)
        version.merge(other.version)
    }
}
