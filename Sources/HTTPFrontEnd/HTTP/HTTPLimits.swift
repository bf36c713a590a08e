/// Bounds on what `HTTPRequestParser` accepts from one connection, enforced while bytes arrive.
///
/// Every limit is checked before the bytes it guards are buffered in full, so a client can never make the
/// parser hold more than roughly `maxRequestLineBytes + maxHeaderBytes + maxBodyBytes` plus one read of input.
/// The defaults suit the session API (small JSON bodies, a few cookies); they are in line with what nginx and
/// Tomcat use (8 KiB lines, a few dozen KiB of headers).
public struct HTTPLimits: Hashable, Sendable {
    /// Longest request line, in bytes, not counting its line ending. Default 8 KiB, as nginx's
    /// `large_client_header_buffers` and Tomcat's `maxHttpHeaderSize`. Longer → 414.
    public var maxRequestLineBytes: Int

    /// All header lines together, in bytes, counting each line's ending but not the request line or the empty
    /// line that ends the head. Default 32 KiB: room for many large cookies. Larger → 431.
    public var maxHeaderBytes: Int

    /// Most header lines in one request. Default 100, as Tomcat's `maxHeaderCount`. More → 431.
    public var maxHeaderCount: Int

    /// Largest request body, in bytes, as declared by `Content-Length`. Default 1 MiB: session attributes are
    /// small, and a body is held in memory whole. Larger → 413, before any of it is read.
    public var maxBodyBytes: Int

    /// The defaults: 8 KiB request line, 32 KiB of headers, 100 header lines, 1 MiB body.
    public init() {
        self.maxRequestLineBytes = 8 * 1024
        self.maxHeaderBytes = 32 * 1024
        self.maxHeaderCount = 100
        self.maxBodyBytes = 1024 * 1024
    }

    /// Custom limits. Every value MUST be positive (a zero body limit is allowed and refuses every body).
    public init(maxRequestLineBytes: Int, maxHeaderBytes: Int, maxHeaderCount: Int, maxBodyBytes: Int) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }

    /// The most bytes a parser with these limits may hold between reads, excluding the read in progress:
    /// one request line, one head's headers, or one body, whichever is being received (with a byte of slack for
    /// a pending CR).
    public var maxBufferedBytes: Int {
        max(maxRequestLineBytes + 1, maxHeaderBytes + 1, maxBodyBytes)
    }
}
