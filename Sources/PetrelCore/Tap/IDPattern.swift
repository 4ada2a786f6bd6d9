/// A component id pattern as `petrel tap` takes it: `*` stands for any run of characters, `?` for one.
public struct IDPattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    private let characters: [Character]

    public init(_ text: String) {
        self.text = text
        self.characters = Array(text)
    }

    public var description: String { text }

    /// Whether the whole of `id` matches.
    public func matches(_ id: String) -> Bool {
        let target = Array(id)
        // Backtracking to the last `*` only: linear in practice, and ids are short.
        var patternIndex = 0
        var targetIndex = 0
        var star: (pattern: Int, target: Int)?
        while targetIndex < target.count {
            if patternIndex < characters.count,
                characters[patternIndex] == "?" || characters[patternIndex] == target[targetIndex]
            {
                patternIndex += 1
                targetIndex += 1
            } else if patternIndex < characters.count, characters[patternIndex] == "*" {
                star = (patternIndex, targetIndex)
                patternIndex += 1
            } else if let last = star {
                patternIndex = last.pattern + 1
                targetIndex = last.target + 1
                star = (last.pattern, last.target + 1)
            } else {
                return false
            }
        }
        while patternIndex < characters.count, characters[patternIndex] == "*" { patternIndex += 1 }
        return patternIndex == characters.count
    }
}
