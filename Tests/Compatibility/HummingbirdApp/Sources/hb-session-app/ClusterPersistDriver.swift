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
        let taken = try await node.update(SessionID(name: key), token: nil, creatingIfAbsent: true) { held, changes in
            guard held.attributes["value"] == nil else { return true }
            try changes.set("value", value)
            if let expires { changes.setMaxInactive(expires) } else { changes.setMaxInactive(seconds: 0) }
            return false
        }
        if taken.value { throw PersistError.duplicate }
    }

    func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        _ = try await node.update(SessionID(name: key), token: nil, creatingIfAbsent: true) { held, changes in
            try changes.set("value", value)
            if let expires {
                changes.setMaxInactive(expires)
            } else if held.attributes.isEmpty {
                changes.setMaxInactive(seconds: 0)  // new, without an expiry; otherwise nil keeps the old one
            }
        }
    }

    func get<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: type)?.object
    }

    func getWithTTL<Object: Codable & Sendable>(key: String, as: Object.Type) async throws
        -> (object: Object, ttl: Duration?)?
    {
        do {
            let held = try await node.read(SessionID(name: key), token: nil)
            guard let object = try held.decode(Object.self, "value") else { return nil }
            return (object, held.maxInactive)  // sliding: this read restarted the clock
        } catch .notFound, .lost {
            return nil
        } catch .invalidAttribute {
            throw PersistError.invalidConversion
        }
    }

    /// Empties the key's session rather than ending it, so the key can be set again at once (an ended session's
    /// id stays dead until it is purged).
    func remove(key: String) async throws {
        do {
            _ = try await node.update(SessionID(name: key), token: nil) { held, changes in
                for name in held.attributes.keys { changes.remove(name) }
            }
        } catch .notFound, .lost {}
    }

    /// Called by the app's service group at graceful shutdown (`PersistDriver` is a `Service`): leaves the cluster.
    func shutdown() async throws { await node.shutdown() }
}
