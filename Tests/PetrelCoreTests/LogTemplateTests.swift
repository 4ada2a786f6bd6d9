import PetrelCore
import Testing

/// `{{ … }}` templates over log records: parsed once, rendered per record, nothing when a value is missing.
@Suite struct LogTemplateTests {
    private let record = LogRecord(
        timestamp: 1, message: "GET /cart 200", severity: "INFO",
        fields: [
            "app": .string("shop"), "http": .object(["status": .int(200), "ok": .bool(true)]),
            "log.iostream": .string("stderr"),
            "tags": .array([.string("a")]),
        ],
        metadata: ["file": "/var/log/pods/x/0.log"],
        resource: [Attribute("k8s.namespace.name", .string("shop")), Attribute("k8s.container.restart_count", .int(2))])

    private func template(_ text: String) throws -> LogTemplate {
        try LogTemplate.parse(text).get()
    }

    @Test func rendersEachKindOfReference() throws {
        #expect(try template("{{ resource.k8s.namespace.name }}").render(record) == "shop")
        #expect(try template("{{resource.k8s.container.restart_count}}").render(record) == "2")
        #expect(try template("{{ fields.app }}").render(record) == "shop")
        #expect(try template("{{ fields.http.status }}").render(record) == "200", "a dotted path into nested fields")
        #expect(try template("{{ fields.http.ok }}").render(record) == "true")
        #expect(try template("{{ fields.log.iostream }}").render(record) == "stderr", "a key with dots in it")
        #expect(try template("{{ message }}").render(record) == "GET /cart 200")
        #expect(try template("{{ severity }}").render(record) == "INFO")
        #expect(try template("{{ metadata.file }}").render(record) == "/var/log/pods/x/0.log")
    }

    @Test func literalTextAroundReferences() throws {
        let parsed = try template("ns={{ resource.k8s.namespace.name }}/{{ fields.app }}!")
        #expect(parsed.render(record) == "ns=shop/shop!")
        #expect(parsed.references == [.resource("k8s.namespace.name"), .field("app")])
        #expect(!parsed.isLiteral)
        #expect(try template("static").render(record) == "static")
        #expect(try template("static").isLiteral)
        #expect(try template("").render(record) == "")
        #expect(try template(#"a {{ "{{" }} b"#).render(record) == "a {{ b")
        #expect(try template("}} alone").render(record) == "}} alone")
    }

    /// As Vector's templates: one missing value, or one without a text form, and the whole template renders nothing.
    @Test func aMissingValueRendersNothing() throws {
        #expect(try template("{{ fields.missing }}").render(record) == nil)
        #expect(try template("x-{{ fields.missing }}").render(record) == nil)
        #expect(try template("{{ resource.k8s.pod.uid }}").render(record) == nil)
        #expect(try template("{{ metadata.nope }}").render(record) == nil)
        #expect(try template("{{ fields.http }}").render(record) == nil, "an object has no text")
        #expect(try template("{{ fields.tags }}").render(record) == nil, "an array has no text")
        #expect(try template("{{ severity }}").render(LogRecord(timestamp: 0, message: "")) == nil)
    }

    @Test(arguments: [
        ("{{ resource.k8s.pod.name", "without a closing"), ("{{ }}", "empty"), ("{{ pod }}", "unknown reference"),
        ("{{ labels.app }}", "unknown reference"), ("{{ fields. }}", "invalid key"),
        ("{{ fields.a b }}", "invalid key"),
    ])
    func badSyntaxIsRefused(text: String, problem: String) {
        guard case .failure(let error) = LogTemplate.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.description.contains(problem), "\(error)")
    }

    @Test func configErrorsAreLocated() {
        let diagnostics = ConfigDiagnostics(file: "petrel.yaml")
        let node = ConfigNode(
            .mapping([(key: "key", node: ConfigNode(.scalar("{{ fields.app"), line: 7))]), line: 6)
        let reader = ConfigReader(node: node, path: "sinks.loki.labels", diagnostics: diagnostics)
        #expect(reader.logTemplate("key") == nil)
        #expect(diagnostics.errors.count == 1)
        #expect(diagnostics.errors.first?.line == 7)
        #expect(diagnostics.errors.first?.path == "sinks.loki.labels.key")
        #expect(diagnostics.errors.first?.message.contains("invalid template") == true)
    }
}
