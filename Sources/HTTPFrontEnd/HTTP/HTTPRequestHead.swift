/// A request whose request line and headers have arrived, while the parser waits for the rest of the head or
/// for the body.
///
/// Each line is parsed as soon as it is complete, so the parser can drop its bytes at once and a head never
/// sits in the buffer whole.
struct HTTPRequestHead: Sendable {
    /// The request line, then each header line's name and value, back to back: what `HTTPRequest` keeps, with
    /// the ranges below pointing into it (no `String` per part).
    private(set) var bytes: [UInt8]
    let method: HTTPRequest.Method
    let methodRange: Range<Int>
    let targetRange: Range<Int>
    let parsedTarget: HTTPRequestTarget
    let version: HTTPRequest.Version
    /// Room for 8 fields from the start: appending one by one grew it from 1 to 2 to 4 to 8 (3 allocations).
    private(set) var fields: [HTTPField] = {
        var fields = [HTTPField]()
        fields.reserveCapacity(8)
        return fields
    }()

    /// Parses `method SP request-target SP HTTP-version` (RFC 9112 §3), line ending already removed.
    ///
    /// Exactly one space between the parts: the RFC allows lenient whitespace, but a server that reads a line
    /// differently from a proxy in front of it is how request smuggling starts.
    init(requestLine line: ArraySlice<UInt8>) throws(HTTPParseError) {
        var first: Int?
        var second: Int?
        for index in line.indices where line[index] == HTTPSyntax.space {
            if first == nil {
                first = index
            } else if second == nil {
                second = index
            } else {
                throw HTTPParseError(.malformedRequestLine, detail: HTTPParseError.excerpt(line))
            }
        }
        guard let first, let second else {
            throw HTTPParseError(.malformedRequestLine, detail: HTTPParseError.excerpt(line))
        }
        let methodBytes = line[line.startIndex..<first]
        let targetBytes = line[(first + 1)..<second]
        let versionBytes = line[(second + 1)...]
        guard HTTPSyntax.isToken(methodBytes), !targetBytes.isEmpty else {
            throw HTTPParseError(.malformedRequestLine, detail: HTTPParseError.excerpt(line))
        }
        self.version = try Self.parseVersion(versionBytes)
        let shift = -line.startIndex
        self.parsedTarget = try HTTPRequestTarget.locate(targetBytes).shifted(by: shift)
        self.method = HTTPRequest.Method(methodBytes)
        self.methodRange = 0..<(first + shift)
        self.targetRange = (first + 1 + shift)..<(second + shift)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(line.count + 192)
        bytes.append(contentsOf: line)
        self.bytes = bytes
    }

    /// A head made from parts (`HTTPRequest`'s public initializer): the same layout as a parsed one.
    init(
        method: String, target: String, parsedTarget: HTTPRequestTarget, version: HTTPRequest.Version,
        headers: [(name: String, value: String)]
    ) {
        var bytes = Array(method.utf8)
        self.methodRange = 0..<bytes.count
        self.method = HTTPRequest.Method(bytes[...])
        bytes.append(HTTPSyntax.space)
        let targetStart = bytes.count
        bytes.append(contentsOf: target.utf8)
        self.targetRange = targetStart..<bytes.count
        self.parsedTarget = parsedTarget.shifted(by: targetStart)
        self.version = version
        self.bytes = bytes
        for (name, value) in headers { append(name: Array(name.utf8)[...], value: Array(value.utf8)[...]) }
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
        append(name: line[..<colon], value: value)
    }

    private mutating func append(name: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        let nameStart = bytes.count
        bytes.append(contentsOf: name)
        let valueStart = bytes.count
        bytes.append(contentsOf: value)
        fields.append(HTTPField(name: nameStart..<valueStart, value: valueStart..<bytes.count))
    }

    /// The number of header lines so far.
    var headerCount: Int { fields.count }

    /// The body length the head declares, checked against `limits` before any body byte is read.
    ///
    /// `Transfer-Encoding` (any value) is refused with 501. `Content-Length` may repeat — as several headers or a
    /// list — only with one value (RFC 9110 §8.6); anything but digits is 400. No `Content-Length` means no body.
    func bodyLength(limits: HTTPLimits) throws(HTTPParseError) -> Int {
        if let encoding = fields.first(where: { $0.nameIs("transfer-encoding", in: bytes) }) {
            throw HTTPParseError(.unsupportedTransferEncoding, detail: HTTPParseError.excerpt(bytes[encoding.value]))
        }
        var length: Int?
        for field in fields where field.nameIs("content-length", in: bytes) {
            let value = bytes[field.value]
            // Each comma-separated element (empty ones too, refused below), without an array of them.
            var elementStart = value.startIndex
            while elementStart <= value.endIndex {
                let elementEnd = value[elementStart...].firstIndex(of: UInt8(ascii: ",")) ?? value.endIndex
                defer { elementStart = elementEnd + 1 }
                let digits = HTTPSyntax.trimmingWhitespace(value[elementStart..<elementEnd])
                guard !digits.isEmpty, digits.allSatisfy(HTTPSyntax.isDigit) else {
                    throw HTTPParseError(.invalidContentLength, detail: HTTPParseError.excerpt(value))
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
            && fields.contains {
                $0.nameIs("expect", in: bytes)
                    && HTTPSyntax.equalsIgnoringASCIICase(bytes[$0.value], "100-continue".utf8)
            }
    }

    /// The finished request.
    func makeRequest(body: [UInt8]) -> HTTPRequest {
        HTTPRequest(head: self, body: body)
    }

    /// `HTTP/<digit>.<digit>`, case-sensitive (RFC 9112 §2.3). Major 1 is spoken; any other major is 505.
    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequest.Version {
        let start = bytes.startIndex
        guard bytes.count == 8, bytes[start..<start + 5].elementsEqual("HTTP/".utf8),
            HTTPSyntax.isDigit(bytes[start + 5]), bytes[start + 6] == UInt8(ascii: "."),
            HTTPSyntax.isDigit(bytes[start + 7])
        else {
            throw HTTPParseError(.malformedVersion, detail: HTTPParseError.excerpt(bytes))
        }
        guard bytes[start + 5] == UInt8(ascii: "1") else {
            throw HTTPParseError(.unsupportedVersion, detail: HTTPParseError.excerpt(bytes))
        }
        return bytes[start + 7] == UInt8(ascii: "0") ? .http10 : .http11
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

/// One header line in a head's bytes: where its name and its (trimmed) value are.
struct HTTPField: Sendable {
    let name: Range<Int>
    let value: Range<Int>

    /// Whether the name is `lowercased` (given in lower case), ignoring ASCII case.
    func nameIs(_ lowercased: StaticString, in bytes: [UInt8]) -> Bool {
        guard name.count == lowercased.utf8CodeUnitCount else { return false }
        let wanted = lowercased.utf8Start
        var offset = 0
        for index in name {
            guard HTTPSyntax.lowercased(bytes[index]) == wanted[offset] else { return false }
            offset += 1
        }
        return true
    }
}
