import Testing

@testable import SessionCluster

@Suite struct LogThrottleTests {
    @Test func oneLineAnIntervalCountingWhatItHeldBack() {
        var throttle = LogThrottle(intervalMillis: 1_000)
        #expect(throttle.admit(now: 5_000) == 1)  // the first at once
        for at in Int64(5_001)..<6_000 { #expect(throttle.admit(now: at) == nil) }
        #expect(throttle.admit(now: 6_000) == 1_000)  // 999 held back, and this one
        #expect(throttle.admit(now: 6_500) == nil)
        #expect(throttle.admit(now: 60_000) == 2)
    }
}
