import IoTSocket
import NIOCore
import NIOSSL

/// The client side of IoTSocket set-up for load tests: initiation, optional TLS, challenge
/// answer, validation; then hands the channel over as logged in.
///
/// A small state machine on the channel's event loop, light enough to run tens of thousands
/// per process. After validation it removes itself and completes `loggedIn`; bytes that
/// arrive in the same read are passed on to the next handler.
final class BenchLoginHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum State {
        case awaitingResponse
        case awaitingChallenge
        case awaitingValidation
        case done
    }

    enum Failure: Error, CustomStringConvertible {
        case refused(InitiationResponse)
        case validationRefused
        case closedDuringLogin

        var description: String {
            switch self {
            case .refused(let response): "initiation refused (\(response))"
            case .validationRefused: "validation 0x00"
            case .closedDuringLogin: "connection closed during set-up"
            }
        }
    }

    private let uid: UID
    private let key: AuthKey
    private let tls: NIOSSLContext?
    private let maxTransmissionLength: UInt16
    private let loggedIn: EventLoopPromise<Void>
    private var state = State.awaitingResponse
    private var buffer: ByteBuffer?

    init(uid: UID, key: AuthKey, tls: NIOSSLContext?, maxTransmissionLength: UInt16 = 0, loggedIn: EventLoopPromise<Void>) {
        self.uid = uid
        self.key = key
        self.tls = tls
        self.maxTransmissionLength = maxTransmissionLength
        self.loggedIn = loggedIn
    }

    func channelActive(context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: Initiation.wireLength)
        Initiation(tls: self.tls != nil, version: Initiation.currentVersion, maxTransmissionLength: self.maxTransmissionLength)
            .write(to: &out)
        context.writeAndFlush(NIOAny(out), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        if self.buffer == nil {
            self.buffer = incoming
        } else {
            self.buffer!.writeBuffer(&incoming)
        }
        self.advance(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.state != .done {
            self.state = .done
            self.loggedIn.fail(Failure.closedDuringLogin)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.state != .done {
            self.state = .done
            self.loggedIn.fail(error)
        }
        context.close(promise: nil)
    }

    private func advance(context: ChannelHandlerContext) {
        while var buffer = self.buffer, buffer.readableBytes > 0 {
            switch self.state {
            case .awaitingResponse:
                guard let response = try? InitiationResponse.read(from: &buffer) else { return }
                self.buffer = buffer
                guard response.ok, response.rule == .none else {
                    self.fail(context: context, .refused(response))
                    return
                }
                self.state = .awaitingChallenge
                if let tls = self.tls, let handler = try? NIOSSLClientHandler(context: tls, serverHostname: nil) {
                    try? context.pipeline.syncOperations.addHandler(handler, position: .first)
                }
            case .awaitingChallenge:
                guard let challenge = Challenge.read(from: &buffer) else { return }
                self.buffer = buffer
                var out = context.channel.allocator.buffer(capacity: ChallengeAnswer.wireLength)
                ChallengeAnswer(uid: self.uid, key: self.key, challenge: challenge).write(to: &out)
                context.writeAndFlush(NIOAny(out), promise: nil)
                self.state = .awaitingValidation
            case .awaitingValidation:
                guard let validation = try? Validation.read(from: &buffer) else {
                    self.fail(context: context, .validationRefused)
                    return
                }
                self.buffer = nil
                guard validation == .accepted else {
                    self.fail(context: context, .validationRefused)
                    return
                }
                self.state = .done
                // Pass on what came with the validation byte (a token, a request) before
                // leaving the pipeline: once removed, this context forwards nothing.
                if buffer.readableBytes > 0 {
                    context.fireChannelRead(NIOAny(buffer))
                }
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                self.loggedIn.succeed()
                return
            case .done:
                return
            }
        }
    }

    private func fail(context: ChannelHandlerContext, _ failure: Failure) {
        self.state = .done
        self.buffer = nil
        self.loggedIn.fail(failure)
        context.close(promise: nil)
    }
}
