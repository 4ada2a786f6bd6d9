import Synchronization
import Testing

@testable import PetrelBuffers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` with a fresh scratch directory, removed with its contents afterwards.
func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    var template = Array("/tmp/petrel-buffers-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    defer { removeTree(path) }
    try await body(path)
}

private func removeTree(_ path: String) {
    for name in (try? FileIO.entries(path)) ?? [] where name != "." && name != ".." {
        let child = path + "/" + name
        if unlink(child) != 0 { removeTree(child) }
    }
    rmdir(path)
}

/// Sizes as the format defines them, spelled out so the tests check the documented layout.
let segmentHeaderSize = 24
let recordHeaderSize = 28

func frameSize(_ payload: [UInt8]) -> Int { recordHeaderSize + payload.count }

/// A payload that differs from the payload of every other `index`.
func payload(_ index: Int, size: Int = 100) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &* 97 &+ index >> 8) }
}

func configuration(
    _ directory: String, maxSize: Int = 1 << 20, maxSegmentSize: Int = 64 << 10,
    fsync: DiskBufferConfiguration.FsyncPolicy = .always, ledgerInterval: Duration = .seconds(1)
) -> DiskBufferConfiguration {
    var configuration = DiskBufferConfiguration(
        directory: directory, maxSize: maxSize, maxSegmentSize: maxSegmentSize, fsync: fsync)
    configuration.ledgerInterval = ledgerInterval
    return configuration
}

/// Collects what the buffer reports through its diagnostics callback.
final class DiagnosticsLog: Sendable {
    private let messages = Mutex<[String]>([])

    var all: [String] { messages.withLock { $0 } }

    var callback: @Sendable (String) -> Void {
        { message in self.messages.withLock { $0.append(message) } }
    }

    func contains(_ text: String) -> Bool {
        all.contains { $0.contains(text) }
    }
}

struct TimedOut: Error {}

/// `body`'s result, or `TimedOut` after `limit`; keeps a broken buffer from hanging the suite.
func within<T: Sendable>(_ limit: Duration = .seconds(5), _ body: @escaping @Sendable () async -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimedOut() }
        return value
    }
}

/// `buffer.next()`, failing with `TimedOut` if nothing comes.
func nextRecord(_ buffer: DiskBuffer) async throws -> DiskBufferRecord? {
    try await within { await buffer.next() }
}

/// The next `count` records, failing the test if they do not come.
func take(_ count: Int, from buffer: DiskBuffer) async throws -> [DiskBufferRecord] {
    var records: [DiskBufferRecord] = []
    for _ in 0..<count {
        let record = try await nextRecord(buffer)
        records.append(try #require(record, "record \(records.count + 1) of \(count) did not come"))
    }
    return records
}

/// Everything the buffer still has to deliver: ends writing, then reads until `next()` returns nil.
func drain(_ buffer: DiskBuffer) async throws -> [DiskBufferRecord] {
    buffer.finishWriting()
    var records: [DiskBufferRecord] = []
    while let record = try await nextRecord(buffer) {
        records.append(record)
    }
    return records
}

func segmentNames(_ directory: String) throws -> [String] {
    try FileIO.entries(directory).filter { $0.hasSuffix(".seg") }.sorted()
}

func fileSize(_ path: String) throws -> Int {
    let fd = try FileIO.openFile(AT_FDCWD, path, O_RDONLY)
    defer { FileIO.closeFile(fd) }
    return try FileIO.size(fd)
}

func readFile(_ path: String) throws -> [UInt8] {
    let fd = try FileIO.openFile(AT_FDCWD, path, O_RDONLY)
    defer { FileIO.closeFile(fd) }
    return try FileIO.read(fd, count: try FileIO.size(fd), at: 0)
}

/// Overwrites bytes of a file in place, or replaces the whole file when `offset` is nil.
func writeFile(_ path: String, _ bytes: [UInt8], at offset: Int? = nil) throws {
    let fd = try FileIO.openFile(AT_FDCWD, path, offset == nil ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY)
    defer { FileIO.closeFile(fd) }
    try FileIO.write(fd, bytes, at: offset ?? 0)
}

func truncateFile(_ path: String, to size: Int) throws {
    let fd = try FileIO.openFile(AT_FDCWD, path, O_WRONLY)
    defer { FileIO.closeFile(fd) }
    try FileIO.truncate(fd, to: size)
}

func segmentPath(_ directory: String, _ id: UInt64) -> String {
    directory + "/" + Format.segmentName(id)
}
