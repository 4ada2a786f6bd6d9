import PetrelCodecs
import Testing

@Suite struct ProtobufWireTests {
    typealias Proto = RemoteWriteFixtures.Proto

    /// Runs `body` on a reader over `bytes`, keeping the reader's typed error.
    private func read<R>(
        _ bytes: [UInt8],
        _ body: (inout ProtobufReader) throws(ProtobufDecodingError) -> R
    ) -> Result<R, ProtobufDecodingError> {
        bytes.withUnsafeBytes { buffer in
            var reader = ProtobufReader(buffer)
            return Result { () throws(ProtobufDecodingError) in try body(&reader) }
        }
    }

    private func written(count: Int, _ body: (inout ProtobufWriter) -> Void) -> [UInt8] {
        ProtobufWriter.makeBytes(count: count, body)
    }

    static let varintCases: [UInt64] = [
        0, 1, 127, 128, 255, 300, 16_383, 16_384, 2_097_151, 2_097_152, 1 << 35, UInt64(UInt32.max),
        1 << 56, UInt64(Int64.max), UInt64.max,
    ]

    @Test(arguments: varintCases)
    func varintRoundTrip(value: UInt64) throws {
        let size = ProtobufWriter.varintSize(value)
        #expect(size == Proto.varint(value).count)
        let bytes = written(count: size) { $0.writeVarint(value) }
        #expect(bytes == Proto.varint(value))
        #expect(try read(bytes) { (reader) throws(ProtobufDecodingError) in try reader.readVarint() }.get() == value)
    }

    @Test func zigZagRoundTrip() throws {
        for value: Int64 in [0, -1, 1, -2, 63, -64, 64, Int64(Int32.min), Int64.max, Int64.min] {
            let encoded = ProtobufWriter.zigZagEncode(value)
            #expect(encoded == Proto.zigZag(value))
            #expect(ProtobufReader.zigZagDecode(encoded) == value)
        }
        #expect(ProtobufWriter.zigZagEncode(Int64(-1)) == 1)
        #expect(ProtobufWriter.zigZagEncode(Int64(1)) == 2)
        for value: Int32 in [0, -1, 1, Int32.min, Int32.max] {
            let bytes = Proto.varint(ProtobufWriter.zigZagEncode(value))
            #expect(bytes.count <= 5)
            #expect(
                try read(bytes) { (reader) throws(ProtobufDecodingError) in try reader.readSInt32() }.get() == value)
        }
    }

    @Test func readsEveryFieldKind() throws {
        var proto = Proto()
        proto.varint(1, 150)
        proto.double(2, -2.5)
        proto.fixed32(3, 0xCAFE_F00D)
        proto.string(4, "petrel")
        proto.int64(5, -7)
        let fields = try read(proto.bytes) { (reader) throws(ProtobufDecodingError) in
            var fields: [String] = []
            while !reader.isAtEnd {
                let key = try reader.readFieldKey()
                switch key.wireType {
                case .varint: fields.append("\(key.number):\(Int64(bitPattern: try reader.readVarint()))")
                case .fixed64: fields.append("\(key.number):\(try reader.readDouble())")
                case .fixed32: fields.append("\(key.number):\(try reader.readFixed32())")
                case .lengthDelimited:
                    let bytes = reader.bytes(try reader.readLengthDelimited())
                    fields.append("\(key.number):\(String(decoding: bytes, as: UTF8.self))")
                }
            }
            return fields
        }.get()
        #expect(fields == ["1:150", "2:-2.5", "3:\(0xCAFE_F00D as UInt32)", "4:petrel", "5:-7"])
    }

    @Test func skipsEveryWireType() throws {
        var proto = Proto()
        proto.unknownFields()
        proto.varint(1, 9)
        let value = try read(proto.bytes) { (reader) throws(ProtobufDecodingError) -> UInt64? in
            while !reader.isAtEnd {
                let key = try reader.readFieldKey()
                if key.number == 1 { return try reader.readVarint() }
                try reader.skipField(key)
            }
            return nil
        }.get()
        #expect(value == 9)
    }

    @Test func nestedReadersReportOffsetsInTheWholeBuffer() {
        var proto = Proto()
        proto.string(1, "abc")
        proto.bytes(2, [0x08, 0x80])  // a message whose only varint is cut short
        let result = read(proto.bytes) { (reader) throws(ProtobufDecodingError) in
            _ = try reader.readFieldKey()
            _ = try reader.readLengthDelimited()
            _ = try reader.readFieldKey()
            var nested = try reader.readMessage()
            #expect(nested.position == 7 && nested.end == 9)
            _ = try nested.readFieldKey()
            return try nested.readVarint()
        }
        #expect(throws: ProtobufDecodingError.truncated) { try result.get() }
        #expect(result.failureValue?.offset == 8)
        #expect(result.failureValue?.description == "truncated varint at byte 8")
    }

    @Test func rejectsMalformedVarints() throws {
        let varint = { (reader: inout ProtobufReader) throws(ProtobufDecodingError) in try reader.readVarint() }
        #expect(throws: ProtobufDecodingError.malformedVarint) {
            try read(Array(repeating: 0x80, count: 11) + [0x00], varint).get()
        }
        // Ten bytes whose last carries more than bit 63 overflow 64 bits.
        #expect(throws: ProtobufDecodingError.malformedVarint) {
            try read(Array(repeating: 0xFF, count: 9) + [0x02], varint).get()
        }
        #expect(try read(Array(repeating: 0xFF, count: 9) + [0x01], varint).get() == UInt64.max)
        #expect(throws: ProtobufDecodingError.truncated) { try read([0x80, 0x80], varint).get() }
        #expect(throws: ProtobufDecodingError.truncated) { try read([], varint).get() }
    }

    @Test func rejectsTruncatedFixedValues() {
        #expect(throws: ProtobufDecodingError.truncated) {
            try read([1, 2, 3, 4, 5, 6, 7]) { (reader) throws(ProtobufDecodingError) in try reader.readFixed64() }.get()
        }
        #expect(throws: ProtobufDecodingError.truncated) {
            try read([1, 2, 3]) { (reader) throws(ProtobufDecodingError) in try reader.readFixed32() }.get()
        }
        for key: UInt8 in [0x09, 0x0D] {
            #expect(throws: ProtobufDecodingError.truncated) {
                try read([key, 1, 2]) { (reader) throws(ProtobufDecodingError) in
                    try reader.skipField(try reader.readFieldKey())
                }.get()
            }
        }
    }

    @Test func rejectsBadKeys() throws {
        let key = { (reader: inout ProtobufReader) throws(ProtobufDecodingError) in try reader.readFieldKey() }
        #expect(throws: ProtobufDecodingError.invalidFieldKey) { try read([0x00], key).get() }
        #expect(throws: ProtobufDecodingError.invalidFieldKey) { try read([0x0E], key).get() }
        #expect(throws: ProtobufDecodingError.invalidFieldKey) { try read([0x0F], key).get() }
        #expect(throws: ProtobufDecodingError.groupWireType) { try read([0x0B], key).get() }
        #expect(throws: ProtobufDecodingError.groupWireType) { try read([0x0C], key).get() }
        // The largest field number protobuf allows is 2^29 - 1.
        #expect(try read(Proto.varint(UInt64((1 << 29) - 1) << 3), key).get().number == (1 << 29) - 1)
        #expect(throws: ProtobufDecodingError.invalidFieldKey) { try read(Proto.varint(1 << 32), key).get() }
    }

    @Test func expectChecksWireTypes() {
        let result = read([0x08, 0x01]) { (reader) throws(ProtobufDecodingError) in
            try reader.readFieldKey().expect(.fixed64)
        }
        #expect(throws: ProtobufDecodingError.wrongWireType) { try result.get() }
        #expect(
            result.failureValue?.description
                == "field 1 at byte 0 has wire type 0 (varint), expected 1 (fixed64)")
    }

    @Test func readsPackedAndUnpackedRepeatedScalars() throws {
        var proto = Proto()
        proto.packedVarints(1, [1, 300, 5])
        proto.varint(1, 7)
        proto.packedDoubles(2, [0.5, -1])
        proto.double(2, 2)
        let (varints, doubles) = try read(proto.bytes) { (reader) throws(ProtobufDecodingError) in
            var varints: [UInt64] = []
            var doubles: [Double] = []
            while !reader.isAtEnd {
                let key = try reader.readFieldKey()
                if key.number == 1 {
                    try reader.readRepeatedVarint(key) { varints.append($0) }
                } else {
                    try reader.readRepeatedFixed64(key) { doubles.append(Double(bitPattern: $0)) }
                }
            }
            return (varints, doubles)
        }.get()
        #expect(varints == [1, 300, 5, 7])
        #expect(doubles == [0.5, -1, 2])
        // A packed run of doubles that is not a multiple of eight bytes is cut short.
        var ragged = Proto()
        ragged.bytes(2, [1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(throws: ProtobufDecodingError.truncated) {
            try read(ragged.bytes) { (reader) throws(ProtobufDecodingError) in
                try reader.readRepeatedFixed64(try reader.readFieldKey()) { _ in }
            }.get()
        }
    }

    @Test func writesFieldsLikeTheReferenceBuilder() {
        var expected = Proto()
        expected.varint(1, 150)
        expected.double(2, -2.5)
        expected.fixed32(3, 0xCAFE_F00D)
        expected.string(4, "a string longer than sixteen bytes")
        expected.string(5, "short")
        expected.bytes(6, [])
        expected.key(7, wireType: 2)
        expected.bytes += Proto.varint(3) + [1, 2, 3]
        let size =
            ProtobufWriter.varintFieldSize(1, 150) + ProtobufWriter.fixed64FieldSize(2) + ProtobufWriter.keySize(3) + 4
            + ProtobufWriter.lengthDelimitedFieldSize(4, length: 34)
            + ProtobufWriter.lengthDelimitedFieldSize(5, length: 5)
            + ProtobufWriter.lengthDelimitedFieldSize(6, length: 0)
            + ProtobufWriter.lengthDelimitedFieldSize(7, length: 3)
        #expect(size == expected.bytes.count)
        let bytes = written(count: size) { writer in
            writer.writeVarintField(1, 150)
            writer.writeDoubleField(2, -2.5)
            writer.writeKey(3, .fixed32)
            writer.writeFixed32(0xCAFE_F00D)
            Array("a string longer than sixteen bytes".utf8).withUnsafeBytes { writer.writeBytesField(4, $0) }
            Array("short".utf8).withUnsafeBytes { writer.writeBytesField(5, $0) }
            writer.writeBytesField(6, UnsafeRawBufferPointer(start: nil, count: 0))
            writer.writeLengthDelimitedHeader(7, length: 3)
            for byte: UInt8 in [1, 2, 3] {
                writer.writeByte(byte)
            }
        }
        #expect(bytes == expected.bytes)
    }

    @Test func appendsToAnExistingArray() {
        var bytes: [UInt8] = [0xAA]
        ProtobufWriter.append(to: &bytes, count: 3) { $0.writeVarintField(1, 300) }
        #expect(bytes == [0xAA, 0x08, 0xAC, 0x02])
        #expect(ProtobufWriter.keySize(15) == 1 && ProtobufWriter.keySize(16) == 2)
    }
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
