import PetrelCore
import PetrelNet

/// Sends OTLP export requests over one transport (gRPC or HTTP): the encoding and answer classification the
/// request driver runs.
protocol OTLPExporter: Sendable {
    /// A batch made ready to send, once however many attempts it takes.
    associatedtype Request: Sendable

    /// Converts and encodes a batch.
    func prepare(_ batch: OTLPBatch) throws -> Request

    /// Makes one attempt; never throws, so every failure is classified.
    func export(_ request: Request) async -> SendOutcome

    /// Keeps the connections up until `shutdown()` and the requests in flight are done.
    func run() async throws

    /// No more requests will be made.
    func shutdown() async
}

/// An export request ready to send, with the batches it was made from.
struct PreparedExport<Message: Sendable>: SinkRequest {
    var message: Message
    var pending: PendingExport

    var eventCount: Int { pending.eventCount }

    func acknowledge() { pending.acknowledge() }
}

extension PendingExport: SinkRequest {}

extension OTLPBatcher: RequestBatching {
    mutating func add(_ envelope: Envelope) -> [PendingExport] {
        add(envelope.batch, acknowledgement: envelope.acknowledgement)
    }

    mutating func flushExpired() -> [PendingExport] { flushExpired(now: .now) }

    mutating func flushAll() -> [PendingExport] { flush() }
}
