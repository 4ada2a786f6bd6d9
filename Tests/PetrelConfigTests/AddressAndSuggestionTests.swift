import PetrelCore
import Testing

@testable import PetrelConfig

@Suite struct AddressAndSuggestionTests {
    @Test(arguments: [
        ("127.0.0.1:8686", "127.0.0.1", 8686),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:65535", "localhost", 65535),
        ("[::1]:8686", "::1", 8686),
        ("[::]:9201", "::", 9201),
        ("[fe80::1%eth0]:80", "fe80::1%eth0", 80),
        ("vminsert.monitoring.svc:8480", "vminsert.monitoring.svc", 8480),
    ])
    func validAddresses(text: String, host: String, port: Int) throws {
        #expect(try HostPort.parse(text).get() == HostPort(host: host, port: port))
    }

    @Test(arguments: [
        "", ":", "host", "host:-1", "host:65536", "host:+80", "[]:80", "[::1]", "a b:80", "[zz]:1", "[1.2.3.4]:80",
        "[fe80::1%]:80",
    ])
    func invalidAddresses(text: String) {
        #expect(throws: HostPortError.self) { try HostPort.parse(text).get() }
    }

    @Test func editDistance() {
        #expect(EditDistance.between("demo", "dmeo") == 1)
        #expect(EditDistance.between("ca", "abc") == 3)
        #expect(EditDistance.between("metrics_gne", "metrics_gen") == 1)
        #expect(EditDistance.between("", "abc") == 3)
        #expect(EditDistance.between("kitten", "sitting") == 3)
        #expect(EditDistance.between("same", "same") == 0)
    }

    @Test func closestMatch() {
        #expect(EditDistance.closest(to: "dmeo", among: ["demo", "other"]) == "demo")
        #expect(EditDistance.closest(to: "prom_inn", among: ["prom_in", "prom"]) == "prom_in")
        #expect(EditDistance.closest(to: "kafka", among: ["demo", "otlp_in"]) == nil)
        #expect(EditDistance.closest(to: "a", among: ["b"]) == "b")
    }
}
