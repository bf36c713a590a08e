import Foundation
import SessionCluster

// The executable: `run`, `up` and the HTTP front end arrive with the runtime issue.
let arguments = CommandLine.arguments.dropFirst()
if arguments.first == "--help" || arguments.isEmpty {
    print(
        """
        usage: session-node <command>

        The runtime (run, up, HTTP front end) is coming; the cluster core and its simulator are in place.
        Run the tests with: swift test
        """)
} else {
    print("session-node: unknown command '\(arguments.first!)' (the runtime is coming); try --help")
    exit(2)
}
