extension Array where Element == UInt8 {
    /// Sets `count` to `newCount`, zero-filling new bytes and keeping the allocation when shrinking, so a reused
    /// output buffer stops allocating once it has reached its working size.
    mutating func resizeWithoutShrinkingCapacity(to newCount: Int) {
        if newCount < count {
            removeSubrange(newCount...)
        } else if newCount > count {
            append(contentsOf: repeatElement(0, count: newCount - count))
        }
    }
}
