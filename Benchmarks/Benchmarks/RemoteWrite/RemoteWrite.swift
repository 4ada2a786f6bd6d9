import PetrelCore
import Benchmark
let benchmarks: @Sendable () -> Void = {}
