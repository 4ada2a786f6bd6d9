/// One relabel rule compiled for the hot path: names and separator as bytes, the regex and both
/// templates parsed once, and arena strings it appended remembered for the rest of the batch.
struct RelabelRule: Sendable {
    let config: RelabelRuleConfig
    let action: RelabelAction
    private let sourceNames: [[UInt8]]
    private let separator: [UInt8]
    private var regex: RE2Regex
    /// `target_label` as written: only `replace` expands it.
    private let targetName: [UInt8]
    private let target: ExpansionTemplate
    /// The expansion of `target_label` when it does not depend on the match, with whether it is a valid name.
    private let constantTarget: (bytes: [UInt8], valid: Bool)?
    private let replacement: ExpansionTemplate
    private let modulus: UInt64
    private let names: LabelNameValidation

    /// The target name and the constant replacement once appended to this batch's arena.
    private var batchTargetName: (UInt32, UInt32)?
    private var batchReplacement: (offset: UInt32, length: UInt32)?

    /// Scratch space shared by the rules of one `RelabelRules`, reused from series to series.
    struct Workspace {
        var value: [UInt8] = []
        var captures: [Int32] = []
        var name: [UInt8] = []
        var text: [UInt8] = []
        var snapshot: [LabelRef] = []
    }

    init(_ config: RelabelRuleConfig, names: LabelNameValidation, allowFastPath: Bool = true) throws(RE2SyntaxError) {
        self.config = config
        self.names = names
        action = config.action
        sourceNames = (config.sourceLabels ?? []).map { Array($0.utf8) }
        separator = Array(config.separator.utf8)
        let regex = try RE2Regex(config.regex, allowFastPath: allowFastPath)
        self.regex = regex
        targetName = Array(config.targetLabel.utf8)
        target = ExpansionTemplate(config.targetLabel, groupCount: regex.groupCount, groupNumber: regex.groupNumber)
        replacement = ExpansionTemplate(
            config.replacement, groupCount: regex.groupCount, groupNumber: regex.groupNumber)
        if let bytes = target.constant {
            constantTarget = (bytes, bytes.withUnsafeBytes { names.isValid($0) })
        } else {
            constantTarget = nil
        }
        modulus = config.modulus
    }

    /// Forgets the arena strings of the previous batch.
    mutating func startBatch() {
        batchTargetName = nil
        batchReplacement = nil
    }

    /// Applies the rule to one series; `false` when the series is to be dropped.
    mutating func apply(to batch: inout MetricBatch, series: Int, work: inout Workspace) -> Bool {
        switch action {
        case .keep, .drop:
            _ = sourceValue(batch, series, into: &work.value)
            let matched = work.value.withUnsafeBytes { regex.matches($0) }
            return matched == (action == .keep)
        case .keepequal, .dropequal:
            _ = sourceValue(batch, series, into: &work.value)
            let equal = work.value.withUnsafeBytes { value in
                targetName.withUnsafeBytes { name in
                    batch.relabelIndex(series: series, name: name).map { batch.relabelValueEquals($0, value) }
                        ?? value.isEmpty
                }
            }
            return equal == (action == .keepequal)
        case .replace:
            replace(&batch, series, &work)
        case .lowercase, .uppercase:
            _ = sourceValue(batch, series, into: &work.value)
            work.text.removeAll(keepingCapacity: true)
            work.value.withUnsafeBytes { Self.changeCase($0, upper: action == .uppercase, into: &work.text) }
            setTarget(&batch, series, value: work.text)
        case .hashmod:
            _ = sourceValue(batch, series, into: &work.value)
            let key = work.value.withUnsafeBytes { MD5.hashmodKey($0) }
            work.text.removeAll(keepingCapacity: true)
            work.text.append(contentsOf: String(key % modulus).utf8)
            setTarget(&batch, series, value: work.text)
        case .labelmap:
            labelMap(&batch, series, &work)
        case .labeldrop, .labelkeep:
            labelDrop(&batch, series, &work, keep: action == .labelkeep)
        }
        return true
    }

    /// Joins the source labels' values into `value`; a missing label is an empty string. When there
    /// is exactly one source label and it is present, returns where its value is in the arena.
    private func sourceValue(_ batch: MetricBatch, _ series: Int, into value: inout [UInt8]) -> (
        offset: UInt32, length: UInt32
    )? {
        value.removeAll(keepingCapacity: true)
        var single: (offset: UInt32, length: UInt32)?
        batch.arena.withUnsafeBytes { arena in
            for (position, name) in sourceNames.enumerated() {
                if position > 0 { value.append(contentsOf: separator) }
                let index = name.withUnsafeBytes { batch.relabelIndex(series: series, name: $0, arena: arena) }
                guard let index else { continue }
                let label = batch.labels[index]
                value.append(
                    contentsOf: UnsafeRawBufferPointer(
                        rebasing: arena[Int(label.valueOffset)..<Int(label.valueOffset + label.valueLength)]))
                if sourceNames.count == 1 { single = (label.valueOffset, label.valueLength) }
            }
        }
        return single
    }

    private mutating func replace(_ batch: inout MetricBatch, _ series: Int, _ work: inout Workspace) {
        let single = sourceValue(batch, series, into: &work.value)
        let matched = work.value.withUnsafeBytes { regex.match($0, captures: &work.captures) }
        guard matched else { return }
        // The target name: constant, or expanded from the match and then checked.
        let targetBytes: [UInt8]
        if let constantTarget {
            guard constantTarget.valid else { return }
            targetBytes = constantTarget.bytes
        } else {
            work.name.removeAll(keepingCapacity: true)
            work.value.withUnsafeBytes { target.expand($0, captures: work.captures, into: &work.name) }
            guard work.name.withUnsafeBytes({ names.isValid($0) }) else { return }
            targetBytes = work.name
        }
        let isConstantName = constantTarget != nil
        // The value: a range of the one source label's value needs no copy.
        if let group = replacement.singleGroup, let single {
            let start = work.captures[2 * group]
            let end = work.captures[2 * group + 1]
            guard start >= 0, end > start else {
                targetBytes.withUnsafeBytes { batch.relabelDelete(series: series, name: $0) }
                return
            }
            let name = internName(&batch, series, targetBytes, constant: isConstantName)
            batch.relabelSet(series: series, name: name, value: (single.offset + UInt32(start), UInt32(end - start)))
            return
        }
        if let constant = replacement.constant {
            guard !constant.isEmpty else {
                targetBytes.withUnsafeBytes { batch.relabelDelete(series: series, name: $0) }
                return
            }
            let name = internName(&batch, series, targetBytes, constant: isConstantName)
            if let cached = batchReplacement {
                batch.relabelSet(series: series, name: name, value: cached)
            } else {
                let appended = constant.withUnsafeBytes { batch.appendToArena($0) }
                batchReplacement = appended
                batch.relabelSet(series: series, name: name, value: appended)
            }
            return
        }
        work.text.removeAll(keepingCapacity: true)
        work.value.withUnsafeBytes { replacement.expand($0, captures: work.captures, into: &work.text) }
        guard !work.text.isEmpty else {
            targetBytes.withUnsafeBytes { batch.relabelDelete(series: series, name: $0) }
            return
        }
        let name = internName(&batch, series, targetBytes, constant: isConstantName)
        work.text.withUnsafeBytes { batch.relabelSet(series: series, name: name, value: $0) }
    }

    /// Sets the constant target label to `value`; an empty value deletes it, as Prometheus' label builder does.
    private mutating func setTarget(_ batch: inout MetricBatch, _ series: Int, value: [UInt8]) {
        guard !value.isEmpty else {
            targetName.withUnsafeBytes { batch.relabelDelete(series: series, name: $0) }
            return
        }
        let name = internName(&batch, series, targetName, constant: true)
        value.withUnsafeBytes { batch.relabelSet(series: series, name: name, value: $0) }
    }

    /// Where the name is in the arena; a constant name is appended at most once per batch.
    private mutating func internName(_ batch: inout MetricBatch, _ series: Int, _ name: [UInt8], constant: Bool)
        -> (offset: UInt32, length: UInt32)
    {
        if constant {
            return name.withUnsafeBytes { batch.relabelName(series: series, $0, cached: &batchTargetName) }
        }
        var none: (UInt32, UInt32)?
        return name.withUnsafeBytes { batch.relabelName(series: series, $0, cached: &none) }
    }

    /// `labelmap`: every label whose name matches is copied to the expanded name, original kept.
    private mutating func labelMap(_ batch: inout MetricBatch, _ series: Int, _ work: inout Workspace) {
        // Prometheus ranges over the labels as they were before the rule.
        work.snapshot.removeAll(keepingCapacity: true)
        work.snapshot.append(contentsOf: batch.labels(of: series))
        for label in work.snapshot {
            let matched = batch.arena.withUnsafeBytes { arena in
                regex.match(
                    UnsafeRawBufferPointer(
                        rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)]),
                    captures: &work.captures)
            }
            guard matched else { continue }
            let value = (offset: label.valueOffset, length: label.valueLength)
            if let group = replacement.singleGroup {
                // The new name is a range of the old one: no copy.
                let start = work.captures[2 * group]
                let end = work.captures[2 * group + 1]
                guard start >= 0, end > start else { continue }
                let name = (offset: label.nameOffset + UInt32(start), length: UInt32(end - start))
                let valid = batch.arena.withUnsafeBytes { arena in
                    names.isValid(
                        UnsafeRawBufferPointer(rebasing: arena[Int(name.offset)..<Int(name.offset + name.length)]))
                }
                guard valid else { continue }
                if value.length == 0 {
                    // Setting an empty value deletes, as in Prometheus' label builder.
                    let bytes = Array(batch.arena[Int(name.offset)..<Int(name.offset + name.length)])
                    bytes.withUnsafeBytes { batch.relabelDelete(series: series, name: $0) }
                    continue
                }
                batch.relabelSet(series: series, name: name, value: value)
                continue
            }
            work.name.removeAll(keepingCapacity: true)
            batch.arena.withUnsafeBytes { arena in
                replacement.expand(
                    UnsafeRawBufferPointer(
                        rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)]),
                    captures: work.captures, into: &work.name)
            }
            guard work.name.withUnsafeBytes({ names.isValid($0) }) else { continue }
            if value.length == 0 {
                work.name.withUnsafeBytes { batch.relabelDelete(series: series, name: $0) }
                continue
            }
            var none: (UInt32, UInt32)?
            let name = work.name.withUnsafeBytes { batch.relabelName(series: series, $0, cached: &none) }
            batch.relabelSet(series: series, name: name, value: value)
        }
    }

    /// `labeldrop` and `labelkeep`: labels are dropped or kept by whether their name matches.
    private mutating func labelDrop(_ batch: inout MetricBatch, _ series: Int, _ work: inout Workspace, keep: Bool) {
        work.snapshot.removeAll(keepingCapacity: true)
        batch.arena.withUnsafeBytes { arena in
            for label in batch.labels(of: series) {
                let name = UnsafeRawBufferPointer(
                    rebasing: arena[Int(label.nameOffset)..<Int(label.nameOffset + label.nameLength)])
                if regex.matches(name) == keep {
                    work.snapshot.append(label)
                }
            }
        }
        let start = Int(batch.series[series].labelStart)
        guard work.snapshot.count != Int(batch.series[series].labelCount) else { return }
        for (offset, label) in work.snapshot.enumerated() {
            batch.labels[start + offset] = label
        }
        batch.series[series].labelCount = UInt32(work.snapshot.count)
    }

    /// Go's `strings.ToLower` and `strings.ToUpper`: ASCII bytewise, else scalar by scalar with
    /// Unicode's simple (one-to-one) case mappings, so `ß` stays `ß` rather than becoming `SS`.
    static func changeCase(_ input: UnsafeRawBufferPointer, upper: Bool, into output: inout [UInt8]) {
        if !input.contains(where: { $0 >= 0x80 }) {
            output.reserveCapacity(output.count + input.count)
            for byte in input {
                let isLower = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
                let isUpper = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
                if upper && isLower {
                    output.append(byte - 32)
                } else if !upper && isUpper {
                    output.append(byte + 32)
                } else {
                    output.append(byte)
                }
            }
            return
        }
        for scalar in String(decoding: input, as: UTF8.self).unicodeScalars {
            output.append(contentsOf: String(simpleCaseMapping(scalar, upper: upper)).utf8)
        }
    }

    /// The one-scalar case mapping of `scalar`. Swift exposes only the full mappings, which agree with
    /// the simple ones whenever they are one scalar; where they are longer, the simple mapping is the
    /// titlecase one for uppercase (`ᾳ` → `ᾼ`), `i` for `İ`, and otherwise the scalar itself.
    private static func simpleCaseMapping(_ scalar: Unicode.Scalar, upper: Bool) -> Unicode.Scalar {
        let properties = scalar.properties
        let full = upper ? properties.uppercaseMapping : properties.lowercaseMapping
        if full.unicodeScalars.count == 1 { return full.unicodeScalars.first! }
        if upper {
            let title = properties.titlecaseMapping.unicodeScalars
            if title.count == 1 { return title.first! }
        } else if scalar == "\u{130}" {
            return "i"
        }
        return scalar
    }
}
