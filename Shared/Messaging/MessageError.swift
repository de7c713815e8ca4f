/// A stream entry that does not hold a valid message: it is logged, counted and acknowledged
/// (retrying would never make it valid).
public struct MessageError: Error, CustomStringConvertible, Sendable, Equatable {
    public var entry: String
    public var field: String
    public var problem: String

    public init(entry: String, field: String, problem: String) {
        self.entry = entry
        self.field = field
        self.problem = problem
    }

    public var description: String { "stream entry \(self.entry): field \"\(self.field)\" \(self.problem)" }
}
