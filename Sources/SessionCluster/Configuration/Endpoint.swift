/// A `host:port` address a node listens on or a beacon is sent to.
///
/// The host is an IPv4 literal (`198.51.100.5`) or `localhost`: a cluster's members MUST NOT depend on name resolution
/// at start-up, where a slow or failing resolver would delay or split the cluster. The port is 1...65535.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 literal or `localhost`.
    public var host: String
    /// A port in 1...65535; 0 ("any port") is not an address peers can reach.
    public var port: UInt16

    /// An endpoint from its parts, unchecked; `isValid` tells whether it could have come from a configuration file.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, e.g. `127.0.0.1:47101` or `localhost:8080`; nil for anything else.
    public init?(_ text: String) {
        guard let endpoint = try? Endpoint(parsing: text) else { return nil }
        self = endpoint
    }

    /// `host:port`.
    public var description: String { "\(host):\(port)" }

    /// Whether the host is an IPv4 literal or `localhost` and the port is not 0.
    public var isValid: Bool { port != 0 && (host == "localhost" || IPv4Address(host) != nil) }

    /// The endpoint with `localhost` spelled `127.0.0.1`, so two spellings of one socket compare equal.
    var canonical: Endpoint { host == "localhost" ? Endpoint(host: "127.0.0.1", port: port) : self }

    /// Why a text is not an endpoint, phrased to follow the quoted text.
    struct SyntaxError: Error, Equatable {
        let problem: String
    }

    init(parsing text: String) throws(SyntaxError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw SyntaxError(problem: "is not host:port (like 127.0.0.1:47101)")
        }
        let host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard host == "localhost" || IPv4Address(host) != nil else {
            throw SyntaxError(
                problem: "does not have an IPv4 address (like 198.51.100.5) or localhost before the ':'")
        }
        guard !portText.isEmpty, portText.count <= 5, portText.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let port = UInt16(portText), port != 0
        else { throw SyntaxError(problem: "does not end in a port in 1...65535") }
        self.init(host: host, port: port)
    }
}

/// A dotted-quad IPv4 literal, strictly: four decimal octets 0...255 without leading zeros (`010` would be octal
/// to some C libraries and decimal to others).
struct IPv4Address: Sendable, Equatable {
    let octets: [UInt8]

    init?(_ text: String) {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }),
                part.count == 1 || part.first != UInt8(ascii: "0"),
                let octet = UInt8(String(decoding: part, as: UTF8.self))
            else { return nil }
            octets.append(octet)
        }
        self.octets = octets
    }

    /// In 224.0.0.0/4, the IPv4 multicast range.
    var isMulticast: Bool { (224...239).contains(octets[0]) }
}
