#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The parts of a `_bulk` answer the sink reads: whether any item failed, and per item (in the order sent) its
/// status and error.
struct BulkResponse: Decodable, Sendable {
    /// One item's result, under its action's name in the answer (`{"index": {...}}`).
    struct Item: Decodable, Sendable {
        var status: Int
        var error: ItemError?
    }

    /// An item's error: an object with `type` and `reason` (older servers sent a plain string).
    struct ItemError: Decodable, Sendable {
        var type: String?
        var reason: String?

        private enum Keys: String, CodingKey {
            case type
            case reason
        }

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                type = nil
                reason = text
                return
            }
            let container = try decoder.container(keyedBy: Keys.self)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            reason = try container.decodeIfPresent(String.self, forKey: .reason)
        }
    }

    var errors: Bool
    /// Each item as `{action: result}`; absent when `filter_path` left nothing of them.
    var items: [[String: Item]]?

    static func decode(_ bytes: [UInt8]) -> BulkResponse? {
        try? JSONDecoder().decode(BulkResponse.self, from: Data(bytes))
    }
}

/// What became of each item of one attempt, sorted from a `_bulk` answer.
struct BulkItemResults: Sendable, Equatable {
    /// A run of refused items sharing a reason.
    struct Dropped: Sendable, Equatable {
        var reason: String
        var items: [Int]
        /// The first item's explanation.
        var message: String
    }

    var delivered: [Int] = []
    var dropped: [Dropped] = []
    var retried: [Int] = []
    /// The first retried item's status and error, for the log.
    var retryReason = ""

    /// Sorts `sent` (the items in the order sent) by the answer's items: 2xx delivered; 429 and 5xx retried; a 409 on
    /// `create` with ids set already stored (a retry of a document that made it the first time), so delivered; any
    /// other refused for good, under its error type (`document_parsing_exception`) or `http_<status>`. Nil when the
    /// answer does not account for every item sent.
    static func sort(_ response: BulkResponse, sent: [Int], action: String, idsSet: Bool) -> BulkItemResults? {
        var results = BulkItemResults()
        guard response.errors else {
            results.delivered = sent
            return results
        }
        guard let items = response.items, items.count == sent.count else { return nil }
        var dropped: [String: Dropped] = [:]
        var reasons: [String] = []
        for (item, answer) in zip(sent, items) {
            guard let (name, result) = answer.first, answer.count == 1 else { return nil }
            let status = result.status
            if (200..<300).contains(status) || (status == 409 && name == "create" && action == "create" && idsSet) {
                results.delivered.append(item)
            } else if status == 429 || (500..<600).contains(status) {
                if results.retried.isEmpty {
                    results.retryReason = "item status \(status): \(describe(result.error))"
                }
                results.retried.append(item)
            } else {
                let reason = result.error?.type ?? "http_\(status)"
                if dropped[reason] == nil {
                    reasons.append(reason)
                    dropped[reason] = Dropped(reason: reason, items: [], message: describe(result.error))
                }
                dropped[reason]!.items.append(item)
            }
        }
        results.dropped = reasons.map { dropped[$0]! }
        return results
    }

    private static func describe(_ error: BulkResponse.ItemError?) -> String {
        guard let error else { return "" }
        return [error.type, error.reason].compactMap { $0 }.joined(separator: ": ")
    }
}
