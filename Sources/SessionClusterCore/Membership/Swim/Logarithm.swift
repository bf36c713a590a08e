/// Natural, base-2 and base-10 logarithms for the protocol's sizing formulas (retransmits, suspicion, push-pull
/// interval). The core imports neither Foundation nor Glibc; these need only a few digits.
package enum Logarithm {
    /// ln x for x > 0 (accurate to about 1e-7): the binary exponent plus an atanh series on the significand.
    package static func natural(_ x: Double) -> Double {
        guard x > 0, x.isFinite else { return x == 0 ? -.infinity : .nan }
        let exponent = Double(x.exponent)
        let significand = x.significand  // in [1, 2)
        let z = (significand - 1) / (significand + 1)
        let z2 = z * z
        var term = z
        var sum = 0.0
        var k = 1.0
        for _ in 0..<12 {
            sum += term / k
            term *= z2
            k += 2
        }
        return exponent * 0.693_147_180_559_945_3 + 2 * sum
    }

    package static func base2(_ x: Double) -> Double { natural(x) / 0.693_147_180_559_945_3 }
    package static func base10(_ x: Double) -> Double { natural(x) / 2.302_585_092_994_046 }
}
