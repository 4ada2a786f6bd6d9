import PetrelCore
import Synchronization

/// A `_bulk` request on its way: its encoded items, which of them are still to send, and the acknowledgements of the
/// input pieces they came from. An attempt sends only the items still pending; a piece is let go as soon as all its
/// items are delivered or dropped, so only the pieces of items being retried stay held.
///
/// One sender owns a request at a time (the request driver retries it in place), so the lock is never contended; it
/// is there because the driver hands the request across tasks.
final class BulkRequest: SinkRequest {
    private struct State {
        /// The items still to send, in order.
        var pending: [Int]
        /// Per piece, how many of its items are not done with yet; 0 once acknowledged.
        var open: [Int]
    }

    let items: BulkItems
    let eventCount: Int
    private let acknowledgements: [Acknowledgement]
    /// The piece each item belongs to.
    private let pieceOfItem: [Int]
    private let state: Mutex<State>

    init(items: BulkItems, pieces: [LogRequest.Piece]) {
        self.items = items
        eventCount = items.count
        acknowledgements = pieces.map(\.acknowledgement)
        var pieceOfItem: [Int] = []
        pieceOfItem.reserveCapacity(items.count)
        for (index, piece) in pieces.enumerated() {
            pieceOfItem.append(contentsOf: repeatElement(index, count: piece.records))
        }
        self.pieceOfItem = pieceOfItem
        state = Mutex(State(pending: Array(0..<items.count), open: pieces.map(\.records)))
    }

    /// The items to send now and the body that carries them.
    func pendingBody() -> (items: [Int], body: [UInt8]) {
        let pending = state.withLock { $0.pending }
        if pending.count == items.count { return (pending, items.bytes) }
        var body: [UInt8] = []
        body.reserveCapacity(pending.reduce(0) { $0 + items.range(of: $1).count })
        for item in pending { body.append(contentsOf: items.bytes[items.range(of: item)]) }
        return (pending, body)
    }

    /// `done` items were delivered or dropped for good, `retried` are to be sent again; lets go of the pieces left
    /// with nothing to send.
    func settle(done: [Int], retried: [Int]) {
        let finished = state.withLock { state -> [Int] in
            state.pending = retried
            var finished: [Int] = []
            for item in done {
                let piece = pieceOfItem[item]
                state.open[piece] -= 1
                if state.open[piece] == 0 { finished.append(piece) }
            }
            return finished
        }
        for piece in finished { acknowledgements[piece].acknowledge() }
    }

    /// The request is done with: every piece not let go yet is.
    func acknowledge() {
        let open = state.withLock { state -> [Int] in
            let open = state.open.indices.filter { state.open[$0] > 0 }
            for piece in open { state.open[piece] = 0 }
            state.pending = []
            return open
        }
        for piece in open { acknowledgements[piece].acknowledge() }
    }
}
