/// Turns a batch into the bytes of one disk-buffer record and back.
///
/// The disk buffer stage is handed one, so the topology stores records without knowing their encoding; Petrel's is
/// `BufferRecordCodec` in PetrelCodecs.
public protocol BatchRecordCodec: Sendable {
    /// The record for `batch`.
    func encode(_ batch: EventBatch) -> [UInt8]
    /// The batch a record holds; throws when the record is of another format or damaged.
    func decode(_ record: [UInt8]) throws -> EventBatch
}
