import Hummingbird
import SessionCluster

/// Hummingbird's key-value seam (`PersistDriver`, used by hummingbird-auth's `SessionStorage`) over an embedded
/// `ClusterNode`: a key is a session named by the key (`SessionID(name:)`, the same id on every node), its value
/// is JSON in the attribute "value". `expires` becomes the session's max inactive interval, reset by every access:
/// sliding expiry, which is what sessions want (a plain key-value store would expire at a fixed time). The seam
/// carries no per-client version token, so a read on another node sees a write once it is replicated: run the
/// cluster with `ack: sync` for read-your-writes behind a round-robin balancer.
struct ClusterPersistDriver: PersistDriver {
    let node: ClusterNode

    func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        do {
            _ = try await node.create(id: SessionID(name: key)) { changes in
                try changes.set("value", value)
                changes.setMaxInactive(seconds: expires.map(Self.seconds) ?? 0)  // 0: never expires
            }
        } catch .alreadyExists {
            throw PersistError.duplicate
        }
    }

    func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        _ = try await node.update(SessionID(name: key), token: nil, creatingIfAbsent: true) { snapshot, changes in
            try changes.set("value", value)
            if let expires {
                changes.setMaxInactive(seconds: Self.seconds(expires))
            } else if snapshot.attributes.isEmpty {
                changes.setMaxInactive(seconds: 0)  // created now without an expiry; else nil keeps the old one
            }
        }
    }

    func get<Object: Codable & Sendable>(key: String, as: Object.Type) async throws -> Object? {
        do {
            return try await node.read(SessionID(name: key), token: nil).decode(Object.self, "value")
        } catch .notFound, .lost {
            return nil
        } catch .invalidAttribute {
            throw PersistError.invalidConversion
        }
    }

    func remove(key: String) async throws {
        do { try await node.invalidate(SessionID(name: key), token: nil) } catch .notFound {}
    }

    /// Called by the app's service group at graceful shutdown (`PersistDriver` is a `Service`): leaves the cluster.
    func shutdown() async throws { await node.shutdown() }

    /// Whole seconds, at least one (the node's unit; 0 would mean "never expires").
    static func seconds(_ duration: Duration) -> Int64 { max(1, duration.components.seconds) }
}
