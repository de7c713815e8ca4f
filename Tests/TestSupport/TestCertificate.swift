import Foundation

/// A self-signed certificate and its key for TLS tests, made with the `openssl` command line.
public struct TestCertificate: Sendable {
    /// The PEM certificate file (`CN=localhost`).
    public let certificatePath: String
    /// The PEM private key file (RSA 2048, unencrypted).
    public let keyPath: String

    /// Runs `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2` into a new
    /// temporary folder.
    /// - Throws: `CertificateError` with openssl's output when it fails.
    public static func makeSelfSigned() throws -> TestCertificate {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iots-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let certificate = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "2",
            "-keyout", key, "-out", certificate,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CertificateError(description: "openssl exited \(process.terminationStatus): \(String(decoding: printed, as: UTF8.self))")
        }
        return TestCertificate(certificatePath: certificate, keyPath: key)
    }

    /// `openssl` failed; carries its output.
    public struct CertificateError: Error, CustomStringConvertible {
        public var description: String
    }
}
