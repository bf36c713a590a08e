/// At most one log line per interval for an event that may come thousands of times a second: `admit` answers
/// how many occurrences the line stands for (this one and those held back since the last line), or nil when the
/// line must wait.
struct LogThrottle {
    let intervalMillis: Int64
    private var held = 0
    private var lastLine: Int64?

    init(intervalMillis: Int64) { self.intervalMillis = intervalMillis }

    /// `count` occurrences (one by default) at `now` (monotonic ms).
    mutating func admit(now: Int64, count: Int = 1) -> Int? {
        held += count
        if let lastLine, now - lastLine < intervalMillis { return nil }
        defer { held = 0 }
        lastLine = now
        return held
    }
}
