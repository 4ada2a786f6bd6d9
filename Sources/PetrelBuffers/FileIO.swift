#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The errno of a failed system call.
struct Errno: Error, Equatable {
    let code: Int32

    static var current: Errno { Errno(code: errno) }

    /// Out of space on the device or over quota: to the caller the buffer is simply full.
    var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }
}

/// Thin wrappers over the POSIX calls the buffer makes: they retry on EINTR, loop over short transfers and throw errno.
enum FileIO {
    static func makeDirectories(_ path: String) throws(Errno) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw .current }
            prefix += "/"
        }
    }

    static func openFile(_ directory: Int32, _ name: String, _ flags: Int32) throws(Errno) -> Int32 {
        while true {
            let fd = openat(directory, name, flags, 0o644)
            if fd >= 0 { return fd }
            if errno != EINTR { throw .current }
        }
    }

    static func closeFile(_ fd: Int32) {
        _ = close(fd)
    }

    static func size(_ fd: Int32) throws(Errno) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .current }
        return Int(info.st_size)
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the file.
    static func read(_ fd: Int32, count: Int, at offset: Int) throws(Errno) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n > 0 {
                    done += n
                } else if n == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
            initialized = done
        }
        if failure != 0 { throw Errno(code: failure) }
        return bytes
    }

    /// Writes all of `bytes` at `offset`; on failure some of them may have been written.
    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int) throws(Errno) {
        let failure = bytes.withUnsafeBytes { buffer -> Int32 in
            var done = 0
            while done < buffer.count {
                let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n > 0 {
                    done += n
                } else if n == 0 {
                    return EIO
                } else if errno != EINTR {
                    return errno
                }
            }
            return 0
        }
        if failure != 0 { throw Errno(code: failure) }
    }

    static func truncate(_ fd: Int32, to size: Int) throws(Errno) {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw .current }
        }
    }

    /// Makes the file's data durable; metadata only as far as needed to read the data back.
    static func syncData(_ fd: Int32) throws(Errno) {
        #if os(Linux)
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw .current }
        }
        #else
        try sync(fd)
        #endif
    }

    /// Full fsync, for directories: makes created, renamed and removed entries durable.
    static func sync(_ fd: Int32) throws(Errno) {
        while fsync(fd) != 0 {
            if errno != EINTR { throw .current }
        }
    }

    static func unlink(_ directory: Int32, _ name: String) throws(Errno) {
        guard unlinkat(directory, name, 0) == 0 else { throw .current }
    }

    static func rename(_ directory: Int32, _ from: String, _ to: String) throws(Errno) {
        guard renameat(directory, from, directory, to) == 0 else { throw .current }
    }

    static func entries(_ path: String) throws(Errno) -> [String] {
        guard let stream = opendir(path) else { throw .current }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            names.append(
                withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return names
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// The buffer's directory, held open so files are opened relative to it and its entries can be fsynced.
struct BufferDirectory: Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws(DiskBufferError) {
        do throws(Errno) {
            try FileIO.makeDirectories(path)
            fd = try FileIO.openFile(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        } catch {
            throw .io(operation: "open directory", path: path, errno: error.code)
        }
        self.path = path
    }

    func path(of name: String) -> String {
        path.hasSuffix("/") ? path + name : path + "/" + name
    }

    func open(_ name: String, flags: Int32) throws(DiskBufferError) -> Int32 {
        do throws(Errno) {
            return try FileIO.openFile(fd, name, flags | O_CLOEXEC)
        } catch {
            throw .io(operation: "open", path: path(of: name), errno: error.code)
        }
    }

    func remove(_ name: String) throws(DiskBufferError) {
        do throws(Errno) {
            try FileIO.unlink(fd, name)
        } catch {
            throw .io(operation: "unlink", path: path(of: name), errno: error.code)
        }
    }

    func entries() throws(DiskBufferError) -> [String] {
        do throws(Errno) {
            return try FileIO.entries(path)
        } catch {
            throw .io(operation: "list", path: path, errno: error.code)
        }
    }

    /// Creates segment `id` holding only its header, durably: the directory entry is fsynced too.
    func createSegment(id: UInt64, firstSequence: UInt64) throws(DiskBufferError) -> Int32 {
        let name = Format.segmentName(id)
        let segment = try open(name, flags: O_RDWR | O_CREAT | O_EXCL)
        do throws(Errno) {
            try FileIO.write(segment, Format.segmentHeader(firstSequence: firstSequence), at: 0)
            try FileIO.sync(fd)
        } catch {
            FileIO.closeFile(segment)
            try? FileIO.unlink(fd, name)
            throw .io(operation: "create", path: path(of: name), errno: error.code)
        }
        return segment
    }

    /// Replaces the ledger atomically: a crash leaves either the old ledger or the new one, never a mix.
    func writeLedger(_ ledger: Ledger) throws(DiskBufferError) {
        let temporary = Format.ledgerTemporaryName
        let file = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do throws(Errno) {
            defer { FileIO.closeFile(file) }
            try FileIO.write(file, ledger.encoded(), at: 0)
            try FileIO.sync(file)
            try FileIO.rename(fd, temporary, Format.ledgerName)
            try FileIO.sync(fd)
        } catch {
            throw .io(operation: "write ledger", path: path(of: Format.ledgerName), errno: error.code)
        }
    }

    enum LedgerState {
        case missing
        case damaged(String)
        case valid(Ledger)
    }

    func readLedger() -> LedgerState {
        let file: Int32
        do throws(Errno) {
            file = try FileIO.openFile(fd, Format.ledgerName, O_RDONLY | O_CLOEXEC)
        } catch {
            return error.code == ENOENT ? .missing : .damaged("it cannot be opened: \(FileIO.describe(error.code))")
        }
        defer { FileIO.closeFile(file) }
        do throws(Errno) {
            switch Ledger.decode(try FileIO.read(file, count: Format.ledgerSize + 1, at: 0)) {
            case .success(let ledger): return .valid(ledger)
            case .failure(let damage): return .damaged(damage.description)
            }
        } catch {
            return .damaged("it cannot be read: \(FileIO.describe(error.code))")
        }
    }
}
