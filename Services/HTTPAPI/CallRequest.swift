import IoTSocket

/// The body of `POST /request`, validated: `{"UID": str, "Timeout": int > 0 (optional),
/// "Payload": …, "Format": "JSON"|"ASCII"|"UTF8"|"BINARY"}`.
///
/// Members other than these are ignored, so centrals that send more keep working.
struct CallRequest: Sendable, Equatable {
    var uid: UID
    /// Seconds the object has to answer, already capped by `HTTPServer.MaxSecWaitResponse`.
    var timeoutSeconds: Int
    var payload: PayloadBlock

    /// - Parameter maxWaitSeconds: the cap on `Timeout`, and its value when absent.
    /// - Throws: `APIError` 400 naming the first member at fault.
    init(json body: JSONValue, maxWaitSeconds: Int) throws(APIError) {
        guard case .object = body else {
            throw .badRequest("the body is \(body.kindDescription), expected an object with UID, Payload and Format", field: "body")
        }
        self.uid = try Self.uid(body["UID"], field: "UID")
        guard let formatValue = body["Format"] else { throw .missing("Format", expected: "JSON, ASCII, UTF8 or BINARY") }
        guard let formatName = formatValue.stringValue else {
            throw .wrongKind("Format", found: formatValue, expected: "a string: JSON, ASCII, UTF8 or BINARY")
        }
        guard let format = PayloadFormat(name: formatName) else {
            throw .badRequest("Format \"\(formatName)\" is unknown, expected JSON, ASCII, UTF8 or BINARY", field: "Format")
        }
        guard let payloadValue = body["Payload"] else {
            throw .missing("Payload", expected: Self.payloadExpectation(format))
        }
        do {
            self.payload = try PayloadBlock(jsonPayload: payloadValue, format: format)
        } catch {
            throw .badRequest(error.description, field: Self.field(of: error))
        }
        switch body["Timeout"] {
        case nil, .null?:
            self.timeoutSeconds = maxWaitSeconds
        case let value?:
            guard case .number(let number) = value else {
                throw .wrongKind("Timeout", found: value, expected: "a positive integer number of seconds")
            }
            guard let seconds = Self.positiveWholeSeconds(number) else {
                throw .badRequest("Timeout is \(value.serializedString), expected a positive integer number of seconds", field: "Timeout")
            }
            self.timeoutSeconds = min(seconds, maxWaitSeconds)
        }
    }

    /// A positive whole number of seconds: `30`, and also `30.0` or `3e1`, which centrals that
    /// compute their timeouts in floating point send (JSON has one kind of number). One too
    /// large for `Int` is `Int.max`, to be capped like any other. Nil for zero, negative and
    /// fractional values.
    static func positiveWholeSeconds(_ number: JSONNumber) -> Int? {
        if let seconds = number.intValue {
            return seconds > 0 ? seconds : nil
        }
        if number.isInteger {
            return number.literal.hasPrefix("-") ? nil : Int.max
        }
        // Infinite for a huge exponent, which is whole too.
        guard let value = number.doubleValue, value > 0, value.rounded(.towardZero) == value else { return nil }
        return value < Double(Int.max) ? Int(value) : Int.max
    }

    /// An object's UID from a body member.
    /// - Throws: `APIError` 400 naming `field` when absent, not a string, empty or too long.
    static func uid(_ value: JSONValue?, field: String) throws(APIError) -> UID {
        guard let value else { throw .missing(field, expected: "a string of 1 to 16 UTF-8 bytes") }
        guard let text = value.stringValue else { throw .wrongKind(field, found: value, expected: "a string of 1 to 16 UTF-8 bytes") }
        do {
            return try UID(text)
        } catch {
            throw .badRequest(error.description, field: field)
        }
    }

    /// `Payload[3]` for a BINARY element at fault, `Payload` otherwise.
    private static func field(of error: PayloadConversionError) -> String {
        switch error {
        case .invalidByte(let index, _), .byteNotANumber(let index, _): "Payload[\(index)]"
        default: "Payload"
        }
    }

    private static func payloadExpectation(_ format: PayloadFormat) -> String {
        switch format {
        case .json: "any JSON value"
        case .ascii: "an ASCII string"
        case .utf8: "a string"
        case .binary: "an array of integers 0–255"
        }
    }
}
