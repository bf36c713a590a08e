/// Correlates a request (fetch, state transfer) with its reply. Unique per node for its lifetime.
public typealias RequestID = UInt64

/// Correlates a `sync` commit with the acknowledgements that complete it. Unique per node.
public typealias CommitID = UInt64
