import Benchmark

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Each iteration handles one request of 1000 events (series or spans) and the scaling factor says so: by default the
// tool prints time and mallocs per event; with `--scale`, per request.
let benchmarks: @Sendable () -> Void = {
    // Neither `.cpuTotal` (10 ms ticks) nor `.instructions` (perf events, often unavailable in containers): sampling
    // the OS for them costs 16 mallocs an iteration, which the malloc count would include. `--metric instructions`
    // adds it back for a run where perf events are allowed.
    //
    // `make bench-check` holds each benchmark to the malloc count (p90) in Benchmarks/Thresholds, with no tolerance: a
    // malloc more or less per request is a change of code (the counts do not depend on the machine).
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput, threadCPU],
        warmupIterations: 20,
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 50_000,
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])]
    )
    remoteWriteBenchmarks()
    otlpBenchmarks()
    otlpLogBenchmarks()
    containerLogBenchmarks()
    remapBenchmarks()
    expositionBenchmarks()
}

/// CPU time of the benchmark's thread: on a shared machine wall-clock time also counts the time other processes
/// hold the core, and `.cpuTotal` is sampled in 10 ms ticks, too coarse for one request.
let threadCPU = BenchmarkMetric.custom("Thread CPU time (ns)", polarity: .prefersSmaller, useScalingFactor: true)

extension Benchmark {
    /// Runs `body`, ends the measurement, and records the thread CPU time `body` took as `threadCPU`.
    ///
    /// Recording a custom metric allocates (16 mallocs here), so it comes after the measurement ends.
    func measuringThreadCPU(_ body: () -> Void) {
        let start = Self.threadCPUNanoseconds()
        body()
        let end = Self.threadCPUNanoseconds()
        stopMeasurement()
        measurement(threadCPU, end - start)
    }

    private static func threadCPUNanoseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }
}
