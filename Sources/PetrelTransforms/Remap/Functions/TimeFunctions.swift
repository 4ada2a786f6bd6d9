#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock, for `now()`.
enum RemapClock {
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * RemapTime.nanosPerSecond + Int64(time.tv_nsec)
    }
}

extension RemapFunctions {
    /// Timestamps: `now`, `format_timestamp`, `to_unix_timestamp` (`parse_timestamp` is with the parsers).
    static let time: [RemapFunction] = [
        RemapFunction("now", [], returns: .timestamp, fallible: false) { _ in .timestamp(RemapClock.now()) },
        RemapFunction(
            "format_timestamp",
            [
                Parameter("value", .timestamp), Parameter("format", .string),
                Parameter("timezone", .string, required: false),
            ],
            returns: .string, fallible: { _ in true },
            compile: { known throws(RemapFunction.ArgumentProblem) in
                let format = try constantFormat(known, 1)
                let offset = try constantZone(known, 2)
                return { arguments in
                    guard case .timestamp(let value) = arguments.value(0) else { throw failure("expected timestamp") }
                    let zone = try offset ?? zoneOffset(arguments.optionalString(2))
                    do {
                        let compiled = try format ?? RemapTime.Format(try arguments.string(1))
                        return .string(compiled.format(value, offset: zone))
                    } catch let problem as RemapTime.FormatError {
                        throw failure(problem.message)
                    }
                }
            }),
        RemapFunction(
            "to_unix_timestamp", [Parameter("value", .timestamp), Parameter("unit", .string, required: false)],
            returns: .integer, fallible: { _ in false },
            compile: { known throws(RemapFunction.ArgumentProblem) in
                let units: [String: Int64] = [
                    "seconds": 1_000_000_000, "milliseconds": 1_000_000, "microseconds": 1000, "nanoseconds": 1,
                ]
                var divisor: Int64 = 1_000_000_000
                if known.kinds[1] != nil {
                    guard case .string(let unit)? = known.constant(1), let value = units[unit] else {
                        throw RemapFunction.ArgumentProblem(
                            index: 1,
                            message: "unit must be a literal: seconds, milliseconds, microseconds or nanoseconds")
                    }
                    divisor = value
                }
                let unit = divisor
                return { arguments in
                    guard case .timestamp(let value) = arguments.value(0) else { throw failure("expected timestamp") }
                    return .integer(floorDivide(value, unit))
                }
            }),
    ]
}
