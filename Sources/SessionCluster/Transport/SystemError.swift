#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: which call, with what errno. Every syscall of the shell goes through `System`.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    /// The call that failed, e.g. `connect(127.0.0.1:47101)`.
    public let call: String
    /// The `errno` the call failed with.
    public let errno: Int32

    /// The failure of `call` with `errno`.
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        let message = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(call) failed: \(message) (errno \(errno))"
    }
}
