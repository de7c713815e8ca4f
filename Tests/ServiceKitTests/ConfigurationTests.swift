import Foundation
import IoTSocket
import Testing

@testable import ServiceKit

/// A reference concentrator config.json with every key it knows, as its users have it.
let referenceConfiguration = """
    {
      "PoolThreadsCount": 4,
      "KeepSessionSec": 90,
      "TCPServer": {
        "Addr": "0.0.0.0", "Port": 50505, "SlotsCount": 1000, "SlotsSize": 4096, "Backlog": 256,
        "SSLKeyFilename": "", "SSLCrtFilename": "", "ReqTimeoutSec": 12
      },
      "HTTPServer": {
        "Addr": "0.0.0.0", "Port": 443, "SlotsCount": 100, "SlotsSize": 8192, "Backlog": 128,
        "SSLKeyFilename": "certs/key.pem", "SSLCrtFilename": "/etc/iots/crt.pem",
        "MaxContentLength": 1048576, "MaxSecWaitResponse": 20
      },
      "UDPServer": { "Addr": "0.0.0.0", "Port": 50506, "DatagramMaxSize": 2048 },
      "Central": {
        "AuthKey": "00112233445566778899AABBCCDDEEFF",
        "WebHooks": {
          "Request": "https://central.example/iots/request",
          "Telemetry": "https://central.example/iots/telemetry",
          "HTTPBufferSize": 65536, "MaxContentLength": 1000000, "MaxSecWaitResponse": 7
        }
      },
      "Groups": {
        "Sensors": { "Telemetry": true, "TelemetryTokenExpMin": 30 },
        "PLC": { "Telemetry": false }
      }
    }
    """

/// Writes `text` to a fresh file in its own folder and returns the file's path.
func writeConfiguration(_ text: String, name: String = "config.json") throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iots-config-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let file = folder.appendingPathComponent(name)
    try Data(text.utf8).write(to: file)
    return file.path
}

/// The configuration error `text` produces, or nil when it loads.
func loadError(_ text: String, environment: [String: String] = [:]) throws -> ConfigurationError? {
    let path = try writeConfiguration(text)
    do {
        _ = try ConcentratorConfiguration.load(path: path, environment: environment)
        return nil
    } catch {
        #expect(error.source == path || error.source == "environment")
        return error
    }
}

@Suite("Configuration file")
struct ConfigurationTests {
    @Test("the reference config.json is accepted as-is, every key read")
    func referenceFile() throws {
        let path = try writeConfiguration(referenceConfiguration)
        let loaded = try ConcentratorConfiguration.load(path: path, environment: [:])
        let configuration = loaded.configuration
        #expect(loaded.warnings.isEmpty)
        #expect(configuration.threadCount == 4)
        #expect(configuration.keepSessionSeconds == 90)
        #expect(configuration.tcpServer.port == 50505)
        #expect(configuration.tcpServer.slotsCount == 1000)
        #expect(configuration.tcpServer.maxTransmissionLength == 4096)
        #expect(configuration.tcpServer.backlog == 256)
        #expect(configuration.tcpServer.tlsEnabled == false)
        #expect(configuration.tcpServer.requestTimeoutSeconds == 12)
        #expect(configuration.httpServer.port == 443)
        #expect(configuration.httpServer.tlsEnabled)
        let folder = (path as NSString).deletingLastPathComponent
        #expect(configuration.httpServer.tlsKeyFile == folder + "/certs/key.pem")
        #expect(configuration.httpServer.tlsCertificateFile == "/etc/iots/crt.pem")
        #expect(configuration.httpServer.maxContentLength == 1_048_576)
        #expect(configuration.httpServer.maxWaitSeconds == 20)
        #expect(configuration.udpServer.port == 50506)
        #expect(configuration.udpServer.datagramMaxSize == 2048)
        #expect(configuration.central.authKey == (try AuthKey(hex: "00112233445566778899aabbccddeeff")))
        #expect(configuration.central.webHooks.requestURL == "https://central.example/iots/request")
        #expect(configuration.central.webHooks.telemetryURL == "https://central.example/iots/telemetry")
        #expect(configuration.central.webHooks.maxContentLength == 1_000_000)
        #expect(configuration.central.webHooks.maxWaitSeconds == 7)
        #expect(configuration.group("Sensors") == GroupConfiguration(telemetry: true, telemetryTokenLifetimeMinutes: 30))
        #expect(configuration.group("PLC") == GroupConfiguration(telemetry: false))
        #expect(configuration.group("Unknown").telemetry == false)
    }

    @Test("an empty object gives the reference defaults")
    func defaults() throws {
        let configuration = try ConcentratorConfiguration.load(path: try writeConfiguration("{}"), environment: [:]).configuration
        #expect(configuration.keepSessionSeconds == 60)
        #expect(configuration.tcpServer.port == 50505)
        #expect(configuration.tcpServer.requestTimeoutSeconds == 10)
        #expect(configuration.udpServer.port == 50505)
        #expect(configuration.udpServer.datagramMaxSize == 4096)
        #expect(configuration.httpServer.maxContentLength == 524_288)
        #expect(configuration.httpServer.maxWaitSeconds == 30)
        #expect(configuration.httpServer.idleTimeoutSeconds == 120)
        #expect(configuration.httpServer.maxConnections == 10_000)
        #expect(configuration.central.webHooks.maxWaitSeconds == 5)
        #expect(configuration.redis.url == "redis://127.0.0.1:6379")
        #expect(configuration.redis.keyPrefix == "iots:")
        #expect(configuration.admin.port(for: .router) == 9101)
        #expect(configuration.admin.port(for: .remoteSync) == 9106)
    }

    @Test(
        "every bad value names the file, the key and what was expected",
        arguments: [
            (#"{"TCPServer": {"Port": "abc"}}"#, "TCPServer.Port", "an integer"),
            (#"{"TCPServer": {"Port": 70000}}"#, "TCPServer.Port", "an integer 1–65535"),
            (#"{"KeepSessionSec": -1}"#, "KeepSessionSec", "an integer 0–2592000"),
            (#"{"Central": {"AuthKey": "xyz"}}"#, "Central.AuthKey", "32 hexadecimal digits"),
            (#"{"Central": {"WebHooks": {"Request": "ftp://x"}}}"#, "Central.WebHooks.Request", "an http:// or https:// URL, or \"\""),
            (#"{"Groups": {"G": {"Telemetry": "yes"}}}"#, "Groups.G.Telemetry", "true or false"),
            (#"{"Groups": {"G": {"TelemetryTokenExpMin": -5}}}"#, "Groups.G.TelemetryTokenExpMin", "an integer 0–527040"),
            (#"{"Groups": {"ThisNameIsLongerThan16": {}}}"#, "Groups", "group names of 1 to 16 UTF-8 bytes"),
            (#"{"UDPServer": {"DatagramMaxSize": 5}}"#, "UDPServer.DatagramMaxSize", "an integer 11–65507"),
            (#"{"HTTPServer": {"SSLKeyFilename": "k.pem"}}"#, "HTTPServer.SSLCrtFilename", "a file name, since the other TLS file is set"),
            (#"{"HTTPServer": {"IdleTimeoutSec": 0}}"#, "HTTPServer.IdleTimeoutSec", "an integer 1–86400"),
            (#"{"HTTPServer": {"MaxConnections": 0}}"#, "HTTPServer.MaxConnections", "an integer 1–1000000"),
            (#"{"Redis": {"URL": "http://x"}}"#, "Redis.URL", RedisConfiguration.urlForms),
            (#"{"Redis": {"URL": "redis://:pw@h:99999"}}"#, "Redis.URL", RedisConfiguration.urlForms),
            (#"{"Admin": {"Ports": {"routr": 1}}}"#, "Admin.Ports.routr", "a service name (router, tcp-gateway, udp-telemetry, http-api, webhook-dispatcher, remote-sync)"),
            (#"{"Log": {"Level": "loud"}}"#, "Log.Level", "one of trace, debug, info, notice, warning, error, critical"),
            (#"{"TCPServer": 5}"#, "TCPServer", "a JSON object"),
            (#"{"Groups": []}"#, "Groups", "a JSON object"),
        ])
    func badValues(text: String, key: String, expected: String) throws {
        let error = try #require(try loadError(text))
        #expect(error.key == key)
        #expect(error.expected == expected)
        #expect(error.description.contains("key \"\(key)\""))
    }

    @Test("Redis.URL takes a unix socket URL; a bad URL is refused with the reason and without its password")
    func redisURLForms() throws {
        let path = try writeConfiguration(#"{"Redis": {"URL": "unix:///run/redis/redis.sock?db=1"}}"#)
        #expect(try ConcentratorConfiguration.load(path: path, environment: [:]).configuration.redis.url == "unix:///run/redis/redis.sock?db=1")
        let fromEnvironment = try ConcentratorConfiguration.load(path: path, environment: ["IOTS_REDIS_URL": "unix://:pw@/tmp/r.sock"])
        #expect(fromEnvironment.configuration.redis.url == "unix://:pw@/tmp/r.sock")

        let error = try #require(try loadError(#"{"Redis": {"URL": "redis://:hunter2@cache:99999"}}"#))
        #expect(error.description.contains("port '99999'"), "\(error)")
        #expect(!error.description.contains("hunter2"), "\(error)")
    }

    @Test("a file that is not JSON, or missing, is named with the reason")
    func brokenFiles() throws {
        let error = try #require(try loadError(#"{"KeepSessionSec": 60,,}"#))
        #expect(error.key == "(file)")
        #expect(error.expected == "valid JSON")
        do {
            _ = try ConcentratorConfiguration.load(path: "/nonexistent/config.json", environment: [:])
            Issue.record("a missing file loaded")
        } catch {
            #expect(error.source == "/nonexistent/config.json")
            #expect(error.expected == "a readable JSON file")
        }
    }

    @Test("unknown keys are reported with their full path, not fatal")
    func unknownKeys() throws {
        let path = try writeConfiguration(#"{"KeepSesionSec": 5, "TCPServer": {"Prot": 1}}"#)
        let loaded = try ConcentratorConfiguration.load(path: path, environment: [:])
        #expect(loaded.warnings.sorted() == [
            "\(path): unknown key \"KeepSesionSec\" ignored",
            "\(path): unknown key \"TCPServer.Prot\" ignored",
        ])
        #expect(loaded.configuration.keepSessionSeconds == 60)
    }

    @Test("environment variables override the file")
    func environmentOverrides() throws {
        let path = try writeConfiguration(referenceConfiguration)
        let configuration = try ConcentratorConfiguration.load(
            path: path,
            environment: [
                "IOTS_REDIS_URL": "redis://:secret@redis:6380/2", "IOTS_KEY_PREFIX": "site1:", "IOTS_INSTANCE_ID": "gw-7",
                "IOTS_ADMIN_PORT": "9999", "IOTS_ADMIN_ADDR": "0.0.0.0", "IOTS_LOG_LEVEL": "DEBUG",
                "IOTS_CENTRAL_AUTHKEY": "ffeeddccbbaa99887766554433221100", "IOTS_KEEP_SESSION_SEC": "5",
                "IOTS_TCP_PORT": "6000", "IOTS_UDP_PORT": "6001", "IOTS_HTTP_PORT": "6002",
            ]
        ).configuration
        #expect(configuration.redis.url == "redis://:secret@redis:6380/2")
        #expect(configuration.redis.keyPrefix == "site1:")
        #expect(configuration.instanceID == "gw-7")
        #expect(configuration.admin.port(for: .httpAPI) == 9999)
        #expect(configuration.admin.address == "0.0.0.0")
        #expect(configuration.logLevel == "debug")
        #expect(configuration.central.authKey == (try AuthKey(hex: "ffeeddccbbaa99887766554433221100")))
        #expect(configuration.keepSessionSeconds == 5)
        #expect(configuration.tcpServer.port == 6000)
        #expect(configuration.udpServer.port == 6001)
        #expect(configuration.httpServer.port == 6002)
    }

    @Test(
        "a bad environment value names the variable",
        arguments: [
            ("IOTS_ADMIN_PORT", "0", "an integer 1–65535"),
            ("IOTS_REDIS_URL", "localhost:6379", RedisConfiguration.urlForms),
            ("IOTS_REDIS_URL", "unix://", RedisConfiguration.urlForms),
            ("IOTS_CENTRAL_AUTHKEY", "abc", "32 hexadecimal digits"),
            ("IOTS_INSTANCE_ID", "a b", "letters, digits, '-', '_' or '.'"),
            ("IOTS_LOG_LEVEL", "verbose", "one of trace, debug, info, notice, warning, error, critical"),
            ("IOTS_KEEP_SESSION_SEC", "2592001", "an integer 0–2592000"),
            ("IOTS_KEEP_SESSION_SEC", "-1", "an integer 0–2592000"),
        ])
    func badEnvironment(variable: String, value: String, expected: String) throws {
        let error = try #require(try loadError("{}", environment: [variable: value]))
        #expect(error.source == "environment")
        #expect(error.key == variable)
        #expect(error.expected == expected)
    }

    @Test("passwords are not logged")
    func redaction() {
        #expect("redis://:secret@redis:6379/1".redactingPassword == "redis://***@redis:6379/1")
        #expect("redis://redis:6379".redactingPassword == "redis://redis:6379")
    }
}
