/// Strict UTF-8 well-formedness (Unicode table 3-7): no overlong forms, no surrogates, nothing
/// above U+10FFFF. Written out so that errors can name the offending byte offset.
enum UTF8Validation {
    /// The length of the well-formed sequence starting at `index`, or nil if there is none.
    @inline(__always)
    static func sequenceLength(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let lead = bytes[index]
        if lead < 0x80 { return 1 }
        let remaining = bytes.count - index
        @inline(__always) func continuation(_ offset: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            offset < remaining && range.contains(bytes[index + offset])
        }
        switch lead {
        case 0xC2...0xDF:
            return continuation(1) ? 2 : nil
        case 0xE0:
            return continuation(1, 0xA0...0xBF) && continuation(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF:
            return continuation(1) && continuation(2) ? 3 : nil
        case 0xED:
            return continuation(1, 0x80...0x9F) && continuation(2) ? 3 : nil
        case 0xF0:
            return continuation(1, 0x90...0xBF) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF4:
            return continuation(1, 0x80...0x8F) && continuation(2) && continuation(3) ? 4 : nil
        default:
            return nil
        }
    }

    /// The offset of the first byte that does not start a well-formed sequence, or nil if all is valid.
    static func firstInvalidOffset(in bytes: some Collection<UInt8>) -> Int? {
        let check = { (buffer: UnsafeBufferPointer<UInt8>) -> Int? in
            var index = 0
            while index < buffer.count {
                guard let length = self.sequenceLength(in: buffer, at: index) else { return index }
                index += length
            }
            return nil
        }
        if let result = bytes.withContiguousStorageIfAvailable(check) {
            return result
        }
        return Array(bytes).withUnsafeBufferPointer(check)
    }
}
