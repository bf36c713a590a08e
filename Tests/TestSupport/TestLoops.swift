import Foundation

/// The event loops the tests' nodes run: `SESSIONCLUSTER_TEST_LOOPS` (1–64), else 1. CI runs the node suites once
/// as they are and once with 2, so every shell test also holds for a node served by several loops.
public enum TestLoops {
    public static let count: Int = {
        guard let text = ProcessInfo.processInfo.environment["SESSIONCLUSTER_TEST_LOOPS"], let loops = Int(text),
            (1...64).contains(loops)
        else { return 1 }
        return loops
    }()
}
