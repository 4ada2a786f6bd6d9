/// What a wait with a deadline found: an element, the end of the input, or the deadline.
public enum Pulled<Element: Sendable>: Sendable {
    case element(Element)
    case ended
    case timedOut
}

/// Waits for the next element of `next`, at most until `deadline` when one is given; what batchers use to send a
/// request once its oldest event is old enough.
///
/// An element that arrives as the deadline passes is kept, never dropped.
func pull<Element: Sendable>(
    until deadline: ContinuousClock.Instant?, _ next: @escaping @Sendable () async -> Element?
) async -> Pulled<Element> {
    guard let deadline else { return await next().map(Pulled.element) ?? .ended }
    return await withTaskGroup(of: Pulled<Element>?.self) { group in
        group.addTask {
            let element = await next()
            if element == nil && Task.isCancelled { return nil }
            return element.map(Pulled.element) ?? .ended
        }
        group.addTask {
            try? await Task.sleep(until: deadline)
            return .timedOut
        }
        var result: Pulled<Element> = .timedOut
        var first = true
        while let outcome = await group.next() {
            if first {
                group.cancelAll()
                first = false
            }
            switch (outcome, result) {
            case (.element?, _): result = outcome!
            case (.ended?, .timedOut): result = .ended
            default: break
            }
        }
        return result
    }
}

extension BoundedQueue {
    /// The next element, waiting at most until `deadline` when one is given.
    public func next(until deadline: ContinuousClock.Instant?) async -> Pulled<Element> {
        await pull(until: deadline) { await self.next() }
    }
}

extension SinkInput {
    /// The next batch, waiting at most until `deadline` when one is given.
    public func next(until deadline: ContinuousClock.Instant?) async -> Pulled<Envelope> {
        await pull(until: deadline) { await self.next() }
    }
}
