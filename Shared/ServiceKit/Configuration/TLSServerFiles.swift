import NIOCore
import NIOSSL

/// The server certificate chain and private key a configuration section names with
/// `SSLCrtFilename` and `SSLKeyFilename` (the reference keys), loaded once at start.
public enum TLSServerFiles {
    /// The TLS server configuration of `section` (`TCPServer`, `HTTPServer`), or nil when it
    /// names no certificate (TLS off).
    /// - Throws: `StartupError` naming `<section>.SSLCrtFilename` or `<section>.SSLKeyFilename`
    ///   and the file that cannot be read or parsed.
    public static func configuration(
        section: String, certificateFile: String?, keyFile: String?
    ) throws(StartupError) -> TLSConfiguration? {
        guard let certificateFile, let keyFile else { return nil }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw StartupError(key: "\(section).SSLCrtFilename", file: certificateFile, problem: "cannot load a PEM certificate: \(error)")
        }
        guard !certificates.isEmpty else {
            throw StartupError(key: "\(section).SSLCrtFilename", file: certificateFile, problem: "holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw StartupError(key: "\(section).SSLKeyFilename", file: keyFile, problem: "cannot load a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.shutdownTimeout = Self.shutdownTimeout
        return configuration
    }

    /// A TLS server context from `section`'s files, or nil when it names no certificate; building
    /// it proves the key belongs to the certificate.
    /// - Throws: `StartupError` as ``configuration(section:certificateFile:keyFile:)`` does, or
    ///   naming `<section>.SSLKeyFilename` when the key does not match the certificate.
    public static func context(section: String, certificateFile: String?, keyFile: String?) throws(StartupError) -> NIOSSLContext? {
        guard let tls = try Self.configuration(section: section, certificateFile: certificateFile, keyFile: keyFile) else { return nil }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw StartupError(
                key: "\(section).SSLKeyFilename", file: keyFile, problem: "does not match the certificate \(certificateFile ?? ""): \(error)")
        }
    }

    /// How long a closing connection waits for the peer's TLS `close_notify` before its socket
    /// is closed anyway (swift-nio-ssl's default is 5 s). Everything meant for the peer has been
    /// sent by then; a device whose cellular link died, or a client that stopped reading, never
    /// answers, and would otherwise hold the socket, and a draining gateway or http-api, that long.
    public static let shutdownTimeout = TimeAmount.seconds(1)
}
