/// Why the dispatcher cannot start with its configuration.
enum DispatcherStartupError: Error, CustomStringConvertible {
    /// A webhook URL is configured but `Central.AuthKey` is not: every call must carry it.
    case missingCentralKey(application: String)
    /// `Central.WebHooks.SigningSecret` starts with `whsec_` but the rest is not base64.
    case invalidSigningSecret

    var description: String {
        switch self {
        case .missingCentralKey(let application):
            "Central.WebHooks.\(application) is set but Central.AuthKey is not: webhooks carry the central's Bearer key"
        case .invalidSigningSecret:
            "Central.WebHooks.SigningSecret starts with \"whsec_\" but the rest is not valid base64"
        }
    }
}
