/// Arithmetic for numbers that arrive from peers (counters, epochs, stamps, intervals): a peer may send the
/// type's maximum, and `+ 1` on it would trap the receiving node. These stop at the bounds instead.
extension FixedWidthInteger {
    /// `self + 1`, or `self` when it is already `.max`.
    package var saturatingSuccessor: Self { self == .max ? self : self + 1 }

    /// `self + other`, clamped to the type's range.
    package func saturatingAdding(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self * other`, clamped to the type's range.
    package func saturatingMultiplied(by other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }
}
