/// Redis's glob matching (`stringmatchlen`) for `KEYS` and `SCAN … MATCH`: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`,
/// and `\` to take the next byte literally. Bytes, not characters, as Redis compares them.
struct GlobPattern {
    private let pattern: [UInt8]

    /// The longest pattern `KEYS` and `SCAN … MATCH` take (Redis has no bound). A match costs up to pattern ×
    /// key name: a 25,000-byte pattern against a 100,000-byte name held the loop 6.8 s and peers declared the node
    /// dead (fresh-eyes finding of 2026-11-29, helper-45); 512 bytes against that name take a few ms.
    static let maxBytes = 512

    /// The error for a pattern over `maxBytes`.
    static let tooLong = RESPValue.err("pattern too long: at most \(maxBytes) bytes")

    init(_ pattern: [UInt8]) { self.pattern = pattern }

    /// Whether `text` matches. Iterative with one backtrack point per `*` run, so a hostile pattern costs
    /// O(pattern × text), not exponential time.
    func matches(_ text: [UInt8]) -> Bool {
        var p = 0
        var t = 0
        var starP = -1
        var starT = 0
        while t < text.count {
            if p < pattern.count {
                switch pattern[p] {
                case UInt8(ascii: "*"):
                    while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
                    if p == pattern.count { return true }
                    starP = p
                    starT = t
                    continue
                case UInt8(ascii: "?"):
                    p += 1
                    t += 1
                    continue
                case UInt8(ascii: "["):
                    let (matched, next) = matchClass(at: p, byte: text[t])
                    if matched {
                        p = next
                        t += 1
                        continue
                    }
                case UInt8(ascii: "\\") where p + 1 < pattern.count:
                    if pattern[p + 1] == text[t] {
                        p += 2
                        t += 1
                        continue
                    }
                default:
                    if pattern[p] == text[t] {
                        p += 1
                        t += 1
                        continue
                    }
                }
            }
            guard starP >= 0 else { return false }
            starT += 1
            t = starT
            p = starP
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Matches `byte` against the class opening at `start`: whether it matched and the index after the class (an
    /// unclosed class runs to the end of the pattern, as in Redis).
    private func matchClass(at start: Int, byte: UInt8) -> (Bool, Int) {
        var index = start + 1
        var negate = false
        if index < pattern.count, pattern[index] == UInt8(ascii: "^") {
            negate = true
            index += 1
        }
        var matched = false
        while index < pattern.count, pattern[index] != UInt8(ascii: "]") {
            if pattern[index] == UInt8(ascii: "\\"), index + 1 < pattern.count {
                index += 1
                if pattern[index] == byte { matched = true }
            } else if index + 2 < pattern.count, pattern[index + 1] == UInt8(ascii: "-"),
                pattern[index + 2] != UInt8(ascii: "]")
            {
                let low = min(pattern[index], pattern[index + 2])
                let high = max(pattern[index], pattern[index + 2])
                if byte >= low && byte <= high { matched = true }
                index += 2
            } else if pattern[index] == byte {
                matched = true
            }
            index += 1
        }
        guard index < pattern.count else { return (negate ? !matched : matched, index) }
        return (negate ? !matched : matched, index + 1)
    }
}
