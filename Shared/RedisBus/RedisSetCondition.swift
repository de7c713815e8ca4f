/// When `SET` writes the value.
public enum RedisSetCondition: Sendable, Hashable {
    /// Always.
    case always
    /// Only if the key does not exist yet (`NX`), e.g. to take a lock or a lease.
    case ifNotExists
    /// Only if the key already exists (`XX`).
    case ifExists
}
