import PetrelCore
import Testing

@Suite struct PrometheusLabelNameTests {
    @Test(arguments: ["a", "_", "__name__", "job", "Job_2", "_9", "zZ_09"])
    func validNames(name: String) {
        #expect(PrometheusLabelName.isValid(name))
        #expect(PrometheusLabelName.isValid(Array(name.utf8)))
    }

    @Test(arguments: ["", "9", "2xx", "a-b", "a.b", "a b", "é", "aé", "a:b", "$1", "a\u{0}"])
    func invalidNames(name: String) {
        #expect(!PrometheusLabelName.isValid(name))
        #expect(!PrometheusLabelName.isValid(Array(name.utf8)))
    }

    @Test func everyByteAgainstTheRegex() {
        // `[a-zA-Z_]` to start, `[a-zA-Z0-9_]` after.
        for value in 0...255 {
            let byte = UInt8(value)
            let letter = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            let digit = (0x30...0x39).contains(byte)
            #expect(PrometheusLabelName.isStart(byte) == (letter || byte == 0x5F), "\(byte)")
            #expect(PrometheusLabelName.isContinuation(byte) == (letter || digit || byte == 0x5F), "\(byte)")
        }
        #expect(!PrometheusLabelName.isContinuation(Unicode.Scalar(0x161)!), "a scalar whose low byte is 'a'")
        #expect(PrometheusLabelName.isStart("x" as Unicode.Scalar))
    }

    @Test func bytesOfAnArenaNeedNoString() {
        let bytes: [UInt8] = Array("job".utf8)
        let valid = bytes.withUnsafeBytes { PrometheusLabelName.isValid($0) }
        #expect(valid)
    }
}
