import ArgumentParser
import ServiceKit

/// The `remote-sync` executable: deposits data on the customer's FTP/SFTP/WebDAV/MQTT servers.
@main
struct RemoteSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote-sync",
        abstract: "IoTSocket concentrator — remote-sync: deposits data on the customer's FTP/SFTP/WebDAV/MQTT servers.",
        discussion: ServiceOptions.discussion
    )

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        guard let runtime = try ServiceRuntime.bootstrap(.remoteSync, options: self.options) else { return }
        try await runtime.run([])
    }
}
