import Glibc
import Synchronization
import Testing

@testable import SessionCluster

/// The append log's own threads: jobs run one at a time in the order given, `sync` waits for those before it,
/// `close` runs what is queued and refuses the rest, and the priority applies to that thread only.
@Suite struct BackgroundThreadTests {
    @Test func jobsRunInOrderAndSyncWaitsForTheOnesBefore() {
        let thread = BackgroundThread(name: "test-order", nice: 0)
        let seen = Mutex<[Int]>([])
        for index in 0..<1_000 { thread.async { seen.withLock { $0.append(index) } } }
        let count = thread.sync { seen.withLock { $0.count } }
        #expect(count == 1_000)
        #expect(seen.withLock { $0 } == Array(0..<1_000))
        thread.close()
    }

    @Test func closeRunsWhatIsQueuedThenRefusesMore() {
        let thread = BackgroundThread(name: "test-close", nice: 0)
        let ran = Mutex(0)
        for _ in 0..<100 {
            thread.async {
                usleep(100)
                ran.withLock { $0 += 1 }
            }
        }
        thread.close()
        #expect(ran.withLock { $0 } == 100)
        #expect(!thread.async { ran.withLock { $0 += 1 } })
        // After the close `sync` runs on the caller's thread instead of waiting forever.
        #expect(thread.sync { 7 } == 7)
        #expect(ran.withLock { $0 } == 100)
        thread.close()  // a second close returns
    }

    @Test func theNiceValueIsTheThreadsOwn() {
        let thread = BackgroundThread(name: "test-nice", nice: 10)
        errno = 0
        let inside = thread.sync { Int(getpriority(__priority_which_t(0), 0)) }
        let outside = Int(getpriority(__priority_which_t(0), 0))
        thread.close()
        #expect(inside == 10)
        #expect(outside != 10)
    }
}
