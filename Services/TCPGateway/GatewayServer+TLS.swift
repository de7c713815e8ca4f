import NIOSSL
import ServiceKit

extension GatewayServer {
    /// The TLS context for sessions that ask for TLS, built once at start; nil when no
    /// certificate is configured (TLS requests are then refused).
    ///
    /// - Throws: ``GatewayStartupError`` naming `SSLCrtFilename` or `SSLKeyFilename` and the file
    ///   that cannot be read or parsed.
    static func makeTLSContext(_ configuration: TCPServerConfiguration) throws(GatewayStartupError) -> NIOSSLContext? {
        guard let certificateFile = configuration.tlsCertificateFile, let keyFile = configuration.tlsKeyFile else { return nil }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw GatewayStartupError(key: "TCPServer.SSLCrtFilename", file: certificateFile, problem: "cannot load a PEM certificate: \(error)")
        }
        guard !certificates.isEmpty else {
            throw GatewayStartupError(key: "TCPServer.SSLCrtFilename", file: certificateFile, problem: "holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw GatewayStartupError(key: "TCPServer.SSLKeyFilename", file: keyFile, problem: "cannot load a PEM private key: \(error)")
        }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw GatewayStartupError(
                key: "TCPServer.SSLKeyFilename", file: keyFile, problem: "does not match the certificate \(certificateFile): \(error)")
        }
    }
}
