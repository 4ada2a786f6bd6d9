import Foundation

#if PETREL_FUZZ
/// libFuzzer's driver, for a program with a `main` of its own (SwiftPM links executables through `<Module>_main`).
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The target this process fuzzes, from `PETREL_FUZZ_TARGET`; an unknown or missing name stops the run with the
/// list of names.
private let selectedTarget: @Sendable ([UInt8]) -> Void = {
    let name = getenv("PETREL_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.all[name] else {
        let names = FuzzTargets.all.keys.sorted().joined(separator: ", ")
        FileHandle.standardError.write(Data("PETREL_FUZZ_TARGET must be one of: \(names) (found \"\(name)\")\n".utf8))
        exit(2)
    }
    return target
}()

/// The program's entry point, which SwiftPM names `main` at link time: hands libFuzzer the command line and the
/// function it calls with each input.
@_cdecl("PetrelFuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { data, size in
        selectedTarget(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
#else
/// Built without the fuzzer (a plain `swift build`), the program only says how to run it.
@main
struct PetrelFuzz {
    static func main() {
        FileHandle.standardError.write(
            Data("PetrelFuzz runs under libFuzzer: build and run it with `make fuzz`\n".utf8))
        exit(2)
    }
}
#endif
