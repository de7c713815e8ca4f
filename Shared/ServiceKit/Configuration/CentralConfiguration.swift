import IoTSocket

/// The customer's central system: its key and its webhooks.
///
/// Keys (reference `Central` object): `AuthKey` (32 hex digits, required; also
/// `IOTS_CENTRAL_AUTHKEY`), `WebHooks` (see `WebHooksConfiguration`).
public struct CentralConfiguration: Sendable, Equatable {
    public var authKey: AuthKey?
    public var webHooks = WebHooksConfiguration()

    public init() {}
}

extension CentralConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        if let hex = try keys.decodeIfPresent(String.self, forKey: ConfigurationKey("AuthKey")), !hex.isEmpty {
            guard let key = try? AuthKey(hex: hex) else {
                throw keys.invalid("AuthKey", expected: "32 hexadecimal digits", found: "\"\(hex)\"")
            }
            self.authKey = key
        }
        self.webHooks = try keys.value("WebHooks", default: self.webHooks)
        keys.warnAboutUnknownKeys(known: ["AuthKey", "WebHooks"], decoder: decoder)
    }
}
