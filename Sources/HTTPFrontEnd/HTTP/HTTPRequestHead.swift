/// A request whose request line and headers have arrived, while the parser waits for the rest of the head or
/// for the body.
///
/// Each line is parsed as soon as it is complete, so the parser can drop its bytes at once and a head never
/// sits in the buffer whole.
struct HTTPRequestHead: Sendable {
    let method: String
    let target: String
    let parsedTarget: HTTPRequestTarget
    let version: HTTPRequest.Version
    private(set) var headers: [(name: String, value: String)] = []

    /// Parses `method SP request-target SP HTTP-version` (RFC 9112 §3), line ending already removed.
    ///
    /// Exactly one space between the parts: the RFC allows lenient whitespace, but a server that reads a line
    /// differently from a proxy in front of it is how request smuggling starts.
    init(requestLine line: ArraySlice<UInt8>) throws(HTTPParseError) {
        var spaces: [Int] = []
        for index in line.indices where line[index] == HTTPSyntax.space {
            spaces.append(index)
            if spaces.count > 2 { break }
        }
        guard spaces.count == 2 else {
            throw HTTPParseError(.malformedRequestLine, detail: HTTPParseError.excerpt(line))
        }
        let methodBytes = line[line.startIndex..<spaces[0]]
        let targetBytes = line[(spaces[0] + 1)..<spaces[1]]
        let versionBytes = line[(spaces[1] + 1)...]
        guard HTTPSyntax.isToken(methodBytes), !targetBytes.isEmpty else {
            throw HTTPParseError(.malformedRequestLine, detail: HTTPParseError.excerpt(line))
        }
        self.version = try Self.parseVersion(versionBytes)
        self.parsedTarget = try HTTPRequestTarget.parse(targetBytes)
        self.method = String(decoding: methodBytes, as: UTF8.self)
        self.target = String(decoding: targetBytes, as: UTF8.self)
    }

    /// `HTTP/<digit>.<digit>`, case-sensitive (RFC 9112 §2.3). Major 1 is spoken; any other major is 505.
    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequest.Version {
        let chars = Array(bytes)
        guard chars.count == 8, chars[0..<5].elementsEqual("HTTP/".utf8), HTTPSyntax.isDigit(chars[5]),
            chars[6] == UInt8(ascii: "."), HTTPSyntax.isDigit(chars[7])
        else {
            throw HTTPParseError(.malformedVersion, detail: HTTPParseError.excerpt(bytes))
        }
        guard chars[5] == UInt8(ascii: "1") else {
            throw HTTPParseError(.unsupportedVersion, detail: HTTPParseError.excerpt(bytes))
        }
        return chars[7] == UInt8(ascii: "0") ? .http10 : .http11
    }

    /// Parses `field-name ":" OWS field-value OWS` (RFC 9112 §5) and appends it.
    mutating func appendHeaderLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        if let first = line.first, HTTPSyntax.isWhitespace(first) {
            throw HTTPParseError(.obsoleteLineFolding, detail: HTTPParseError.excerpt(line))
        }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon), HTTPSyntax.isToken(line[..<colon]) else {
            throw HTTPParseError(.malformedHeader, detail: HTTPParseError.excerpt(line))
        }
        let value = HTTPSyntax.trimmingWhitespace(line[(colon + 1)...])
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw HTTPParseError(.malformedHeader, detail: HTTPParseError.excerpt(line))
        }
        headers.append((String(decoding: line[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    /// The body length the head declares, checked against `limits` before any body byte is read.
    ///
    /// `Transfer-Encoding` (any value) is refused with 501. `Content-Length` may repeat — as several headers or a
    /// list — only with one value (RFC 9110 §8.6); anything but digits is 400. No `Content-Length` means no body.
    func bodyLength(limits: HTTPLimits) throws(HTTPParseError) -> Int {
        if let encoding = headers.first(where: { HTTPSyntax.equalsIgnoringASCIICase($0.name, "transfer-encoding") }) {
            throw HTTPParseError(.unsupportedTransferEncoding, detail: HTTPParseError.excerpt(encoding.value.utf8))
        }
        var length: Int?
        for (name, value) in headers where HTTPSyntax.equalsIgnoringASCIICase(name, "content-length") {
            for element in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let digits = HTTPSyntax.trimmingWhitespace(ArraySlice(element))
                guard !digits.isEmpty, digits.allSatisfy(HTTPSyntax.isDigit) else {
                    throw HTTPParseError(.invalidContentLength, detail: HTTPParseError.excerpt(value.utf8))
                }
                let parsed = Self.saturatingDecimal(digits)
                if let length, length != parsed {
                    throw HTTPParseError(
                        .invalidContentLength, detail: "conflicting values \(length) and \(parsed)")
                }
                length = parsed
            }
        }
        let declared = length ?? 0
        guard declared <= limits.maxBodyBytes else {
            throw HTTPParseError(.bodyTooLarge, detail: "\(declared) bytes > limit \(limits.maxBodyBytes)")
        }
        return declared
    }

    /// Whether the client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1; HTTP/1.1 only).
    var expectsContinue: Bool {
        version == .http11
            && headers.contains {
                HTTPSyntax.equalsIgnoringASCIICase($0.name, "expect")
                    && HTTPSyntax.equalsIgnoringASCIICase($0.value, "100-continue")
            }
    }

    /// The finished request.
    func makeRequest(body: [UInt8]) -> HTTPRequest {
        HTTPRequest(
            method: method, target: target, parsedTarget: parsedTarget, version: version, headers: headers,
            body: body)
    }

    /// Decimal digits as an `Int`, `Int.max` when larger: any such value is over every body limit anyway.
    private static func saturatingDecimal(_ digits: ArraySlice<UInt8>) -> Int {
        var value = 0
        for digit in digits {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return Int.max }
            value = sum
        }
        return value
    }
}
