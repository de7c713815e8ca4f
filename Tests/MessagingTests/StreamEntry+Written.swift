import RedisBus

extension StreamEntry {
    /// The entry Redis would give back for an `XADD` of `fields`, as a reader sees it.
    static func written(_ fields: [(name: String, value: RedisArgument)], id: String = "1-0") -> StreamEntry {
        StreamEntry(
            id: id,
            fields: fields.map { field -> StreamEntry.Field in
                switch field.value {
                case .string(let text): StreamEntry.Field(name: field.name, value: Array(text.utf8))
                case .bytes(let bytes): StreamEntry.Field(name: field.name, value: bytes)
                case .integer(let value): StreamEntry.Field(name: field.name, value: Array(String(value).utf8))
                default: StreamEntry.Field(name: field.name, value: [])
                }
            })
    }
}
