import NIOSSL
import ServiceKit

extension GatewayServer {
    /// The TLS context for sessions that ask for TLS, built once at start; nil when no
    /// certificate is configured (TLS requests are then refused).
    ///
    /// - Throws: ``StartupError`` naming `SSLCrtFilename` or `SSLKeyFilename` and the file
    ///   that cannot be read or parsed.
    static func makeTLSContext(_ configuration: TCPServerConfiguration) throws(StartupError) -> NIOSSLContext? {
        try TLSServerFiles.context(section: "TCPServer", certificateFile: configuration.tlsCertificateFile, keyFile: configuration.tlsKeyFile)
    }
}
