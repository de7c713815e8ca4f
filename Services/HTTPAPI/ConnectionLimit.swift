import HummingbirdCore
import Metrics

/// At most `limit` connections served at once (`HTTPServer.MaxConnections`): at the limit the
/// listener stops accepting and new connections wait in the listen backlog until one closes, so
/// a flood of clients cannot take the descriptors the service needs for Redis and its admin
/// endpoint. Reports the open count as `iots_http_connections_open`.
struct ConnectionLimit: AvailableConnectionsDelegate {
    let limit: Int
    let open: Gauge
    private var count = 0

    init(limit: Int, open: Gauge) {
        self.limit = limit
        self.open = open
    }

    mutating func connectionOpened() {
        self.count += 1
        self.open.record(self.count)
    }

    mutating func connectionClosed() {
        self.count -= 1
        self.open.record(self.count)
    }

    func isAcceptingNewConnections() -> Bool {
        self.count < self.limit
    }
}
