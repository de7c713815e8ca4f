/// A JSON number kept as its literal text, so that no precision is lost on the way through
/// (a central's 64-bit ids or long decimals come back out exactly as they came in).
///
/// The literal always follows the RFC 8259 number grammar:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The literal text, e.g. `-12.5e3`.
    public let literal: String

    /// A number from its literal text; nil unless `literal` follows the JSON number grammar exactly
    /// (no surrounding spaces, no `+`, no leading zeros, no `.5`, no `NaN`).
    public init?(literal: String) {
        let bytes = Array(literal.utf8)
        guard Self.grammarLength(of: bytes, from: 0) == bytes.count else { return nil }
        self.literal = literal
    }

    init(uncheckedLiteral literal: String) {
        self.literal = literal
    }

    public init(_ value: some BinaryInteger) {
        self.literal = String(value)
    }

    public init(integerLiteral value: Int) {
        self.init(value)
    }

    /// The value as an `Int` if the literal is an integer (no fraction, no exponent) in range.
    public var intValue: Int? {
        self.isInteger ? Int(self.literal) : nil
    }

    /// The value as the nearest `Double` (may round, or be infinite for huge exponents).
    public var doubleValue: Double? { Double(self.literal) }

    /// True when the literal has neither a fraction nor an exponent.
    public var isInteger: Bool {
        !self.literal.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
    }

    public var description: String { self.literal }

    /// The number of bytes from `start` that form the longest number in `bytes`, or nil when no
    /// number starts there or it is cut short (`-`, `1.`, `1e+`).
    ///
    /// Used by the parser too, which is why a grammar failure reports where it happened through
    /// `failureOffset`.
    static func grammarLength(
        of bytes: UnsafeBufferPointer<UInt8>,
        from start: Int,
        failureOffset: inout Int
    ) -> Int? {
        var index = start
        @inline(__always) func isDigit(_ offset: Int) -> Bool {
            offset < bytes.count && bytes[offset] >= UInt8(ascii: "0") && bytes[offset] <= UInt8(ascii: "9")
        }
        @inline(__always) func skipDigits() {
            while isDigit(index) { index += 1 }
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(index) else {
            failureOffset = index
            return nil
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else {
                failureOffset = index
                return nil
            }
            skipDigits()
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard isDigit(index) else {
                failureOffset = index
                return nil
            }
            skipDigits()
        }
        return index - start
    }

    private static func grammarLength(of bytes: [UInt8], from start: Int) -> Int? {
        var failureOffset = 0
        return bytes.withUnsafeBufferPointer { self.grammarLength(of: $0, from: start, failureOffset: &failureOffset) }
    }
}
