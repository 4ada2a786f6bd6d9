/// How a frame ended.
public enum SyslogFrameEnd: Sendable, Equatable {
    /// The whole frame arrived.
    case complete
    /// The frame was longer than the limit: these are its first bytes, the rest was skipped.
    case cut
    /// The connection closed before the frame's announced length arrived: these are the bytes that did.
    case closedEarly
}

/// Splits a syslog TCP stream into messages (RFC 6587): by octet counting (`LEN SP MSG`, which RFC 5425 requires
/// over TLS) or by a newline after each message, told apart by each frame's first byte (a digit is a count).
///
/// Frames come out through a closure, pointing into the bytes handed in whenever a frame lies within them, so the
/// common case copies nothing; only a frame split across reads is gathered. A frame is never longer than
/// `maxMessageBytes`: the rest of a longer one is skipped. Any input is accepted: bytes that are not a valid count
/// start a newline-terminated frame.
public struct SyslogFramer: Sendable {
    private enum State {
        /// Between frames.
        case frameStart
        /// Reading the digits of an octet count; `pending` holds them, in case they turn out to start a line.
        case counting(Int)
        /// Gathering `remaining` more bytes of a counted frame, then skipping `skip` bytes past the limit.
        case octets(remaining: Int, skip: Int)
        /// Skipping `remaining` bytes of a counted frame past the limit.
        case skipOctets(remaining: Int)
        /// Inside a newline-terminated frame; `pending` holds its bytes so far.
        case line
        /// Skipping a newline-terminated frame past the limit, up to its newline.
        case skipLine
    }

    /// The longest frame handed out.
    public let maxMessageBytes: Int
    private var state = State.frameStart
    private var pending: [UInt8] = []

    /// Octet counts have at most this many digits; a longer run of digits starts a line.
    private static let maxCountDigits = 10

    public init(maxMessageBytes: Int) {
        precondition(maxMessageBytes > 0, "a frame holds at least one byte")
        self.maxMessageBytes = maxMessageBytes
    }

    /// Takes the next bytes of the stream and hands every frame they complete to `emit`, in order. The frame's bytes
    /// are only valid during the call.
    public mutating func consume(
        _ input: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer, SyslogFrameEnd) -> Void
    ) {
        var index = 0
        let end = input.count
        while index < end {
            switch state {
            case .frameStart:
                let byte = input[index]
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == 0 || byte == UInt8(ascii: " ") {
                    index += 1
                } else if byte &- UInt8(ascii: "1") < 9 {
                    pending.append(byte)
                    state = .counting(Int(byte &- UInt8(ascii: "0")))
                    index += 1
                } else {
                    state = .line
                }
            case .counting(let value):
                let byte = input[index]
                if byte &- UInt8(ascii: "0") < 10, pending.count < Self.maxCountDigits {
                    pending.append(byte)
                    state = .counting(value * 10 + Int(byte &- UInt8(ascii: "0")))
                    index += 1
                } else if byte == UInt8(ascii: " ") {
                    pending.removeAll(keepingCapacity: true)
                    let kept = min(value, maxMessageBytes)
                    state = .octets(remaining: kept, skip: value - kept)
                    index += 1
                } else {
                    // Not a count: the digits begin a newline-terminated frame.
                    state = .line
                }
            case .octets(let remaining, let skip):
                let available = end - index
                if pending.isEmpty, available >= remaining {
                    emit(
                        UnsafeRawBufferPointer(rebasing: input[index..<index + remaining]), skip > 0 ? .cut : .complete)
                    index += remaining
                    state = skip > 0 ? .skipOctets(remaining: skip) : .frameStart
                } else {
                    let taken = min(available, remaining)
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<index + taken]))
                    index += taken
                    if taken == remaining {
                        pending.withUnsafeBytes { emit($0, skip > 0 ? .cut : .complete) }
                        pending.removeAll(keepingCapacity: true)
                        state = skip > 0 ? .skipOctets(remaining: skip) : .frameStart
                    } else {
                        state = .octets(remaining: remaining - taken, skip: skip)
                    }
                }
            case .skipOctets(let remaining):
                let taken = min(end - index, remaining)
                index += taken
                state = taken == remaining ? .frameStart : .skipOctets(remaining: remaining - taken)
            case .line:
                let rest = UnsafeRawBufferPointer(rebasing: input[index...])
                let newline = rest.firstIndex(of: UInt8(ascii: "\n")).map { index + $0 }
                let stop = newline ?? end
                if pending.isEmpty, newline != nil {
                    let length = stop - index
                    let kept = min(length, maxMessageBytes)
                    emit(
                        UnsafeRawBufferPointer(rebasing: input[index..<index + kept]), kept < length ? .cut : .complete)
                    state = .frameStart
                } else {
                    let room = maxMessageBytes - pending.count
                    let taken = min(stop - index, room)
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<index + taken]))
                    if taken < stop - index {
                        // Over the limit: hand out what fits, skip the rest of the line.
                        pending.withUnsafeBytes { emit($0, .cut) }
                        pending.removeAll(keepingCapacity: true)
                        state = newline == nil ? .skipLine : .frameStart
                    } else if newline != nil {
                        pending.withUnsafeBytes { emit($0, .complete) }
                        pending.removeAll(keepingCapacity: true)
                        state = .frameStart
                    }
                }
                index = newline.map { $0 + 1 } ?? end
            case .skipLine:
                let rest = UnsafeRawBufferPointer(rebasing: input[index...])
                if let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                    index += newline + 1
                    state = .frameStart
                } else {
                    index = end
                }
            }
        }
    }

    /// The stream ended: hands out a last newline-terminated frame that had no newline, or what arrived of a counted
    /// frame (`.closedEarly`). Returns whether the stream ended inside a counted frame or its count, which a sender
    /// cut off.
    public mutating func finish(_ emit: (UnsafeRawBufferPointer, SyslogFrameEnd) -> Void) -> Bool {
        defer {
            pending.removeAll()
            state = .frameStart
        }
        switch state {
        case .frameStart, .skipLine, .skipOctets:
            return false
        case .line:
            if !pending.isEmpty { pending.withUnsafeBytes { emit($0, .complete) } }
            return false
        case .counting:
            return true
        case .octets:
            if !pending.isEmpty { pending.withUnsafeBytes { emit($0, .closedEarly) } }
            return true
        }
    }
}
