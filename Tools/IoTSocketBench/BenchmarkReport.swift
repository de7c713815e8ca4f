/// The result of one benchmark run: a human summary and one JSON line for scripts.
struct BenchmarkReport {
    var name: String
    var figures: [(key: String, value: String)]

    /// Prints `name: key=value …` then `{"benchmark":"name",…}`.
    func print() {
        Swift.print("\(self.name): " + self.figures.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        let fields = [("benchmark", "\"\(self.name)\"")] + self.figures.map { ($0.key, Self.jsonValue($0.value)) }
        Swift.print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
    }

    private static func jsonValue(_ text: String) -> String {
        Double(text) != nil ? text : "\"\(text)\""
    }
}
