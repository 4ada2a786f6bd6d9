import Logging
import PetrelCodecs
import PetrelCore
import Testing

@testable import PetrelSources

#if canImport(Glibc)
import Glibc
#endif

/// `kubernetes_logs`' pieces on their own: finding files in a `/var/log/pods` layout, and turning CRI and Docker
/// lines into records with their pod's attributes.
@Suite struct KubernetesLogsDecodingTests {
    static let stream = "/var/log/pods/shop_web-5f7c9d8b4-abcde_8d1c2f3a-0000-4000-8000-000000000001/app/2.log"
    static let uid = "8d1c2f3a-0000-4000-8000-000000000001"

    /// A decoder's context with its own telemetry, and the lines it is fed numbered by file.
    struct Feeder {
        let telemetry = componentTestTelemetry(id: "pods", type: "kubernetes_logs", kind: .source)
        let context: ContainerLineContext
        var decoder: ContainerLineDecoder
        var offsets: [UInt64: Int64] = [:]

        init(
            limits: ContainerLogLimits = ContainerLogLimits(), metadata: PodMetadataIndex? = nil,
            exclude: PodLogRules = PodLogRules(), stream: String = KubernetesLogsDecodingTests.stream
        ) {
            context = ContainerLineContext(
                metadata: metadata, nodeName: "node-a", include: PodLogRules(), exclude: exclude, limits: limits,
                fileTelemetry: FileTelemetry(telemetry), telemetry: telemetry, logger: Logger(label: "test.k8s"))
            decoder = ContainerLineDecoder(stream: stream, context: context)
        }

        /// Feeds one line of `file`, as the tailer would after reading it; returns what came out.
        mutating func feed(_ text: String, file: UInt64 = 1) -> [DecodedRecord] {
            feedRaw(Array(text.utf8), file: file)
        }

        mutating func flush() -> [DecodedRecord] {
            var output: [DecodedRecord] = []
            decoder.flush(into: &output)
            return output
        }

        func counter(_ name: String, _ labels: [(String, String)]) -> UInt64 {
            telemetry.registry.counter(
                name, help: "", labels: [("component_id", "pods"), ("component_type", "kubernetes_logs")] + labels
            ).value
        }

        var lostToLongLines: UInt64 { counter("petrel_file_lost_bytes_total", [("reason", "line_too_long")]) }
        var errors: UInt64 {
            telemetry.registry.counter(
                "petrel_component_errors_total", help: "",
                labels: [
                    ("component_id", "pods"), ("component_kind", "source"), ("component_type", "kubernetes_logs"),
                    ("stage", "processing"),
                ]
            ).value
        }
    }

    // MARK: Decoding

    @Test func criLinesBecomeRecordsWithTheRuntimeTimeStreamAndPathAttributes() throws {
        var feeder = Feeder()
        let out = feeder.feed("2026-12-06T10:15:42.123456789Z stdout F hello world")
        let record = try #require(out.first?.record)
        #expect(out.count == 1)
        #expect(record.message == "hello world")
        #expect(record.timestamp == 1_796_552_142_123_456_789)
        #expect(record.fields["log.iostream"] == .string("stdout"))
        #expect(record.metadata["source_type"] == "kubernetes_logs")
        #expect(
            record.resource == [
                Attribute("k8s.namespace.name", .string("shop")),
                Attribute("k8s.pod.name", .string("web-5f7c9d8b4-abcde")),
                Attribute("k8s.pod.uid", .string(Self.uid)), Attribute("k8s.container.name", .string("app")),
                Attribute("k8s.container.restart_count", .int(2)), Attribute("k8s.node.name", .string("node-a")),
            ])
        #expect(out[0].spans == [FileSpan(file: 1, range: 0..<52)])
    }

    @Test func criPartialPiecesAreJoinedPerStreamWithEverySpan() throws {
        var feeder = Feeder()
        #expect(feeder.feed("2026-12-06T10:15:42Z stdout P first ").isEmpty)
        let interleaved = feeder.feed("2026-12-06T10:15:43+01:00 stderr F oops")
        #expect(interleaved.compactMap(\.record).map(\.message) == ["oops"])
        #expect(interleaved[0].record?.fields["log.iostream"] == .string("stderr"))
        #expect(feeder.feed("2026-12-06T10:15:44Z stdout P second ").isEmpty)
        let out = feeder.feed("2026-12-06T10:15:45Z stdout F third")
        let record = try #require(out.first?.record)
        #expect(record.message == "first second third")
        #expect(record.timestamp == 1_796_552_142_000_000_000, "the first piece's time")
        #expect(out[0].spans.map(\.range.lowerBound) == [0, 77, 115], "each piece, not the stderr line")
    }

    @Test func partialLineAcrossARotationIsOneRecordWithASpanInEachFile() throws {
        var feeder = Feeder()
        #expect(feeder.feed("2026-12-06T10:15:42Z stdout F before", file: 7).count == 1)
        #expect(feeder.feed("2026-12-06T10:15:43Z stdout P split ", file: 7).isEmpty)
        let out = feeder.feed("2026-12-06T10:15:44Z stdout F across", file: 8)
        #expect(out.compactMap(\.record).map(\.message) == ["split across"])
        #expect(out[0].spans == [FileSpan(file: 7, range: 37..<74), FileSpan(file: 8, range: 0..<37)])
    }

    @Test func dockerLinesAndSplitPiecesAreJoined() throws {
        var feeder = Feeder()
        let whole = feeder.feed(#"{"log":"hello \"docker\"\n","stream":"stderr","time":"2026-12-06T10:15:42.5Z"}"#)
        #expect(whole.compactMap(\.record).map(\.message) == [#"hello "docker""#])
        #expect(whole.first?.record?.fields["log.iostream"] == .string("stderr"))
        #expect(whole.first?.record?.timestamp == 1_796_552_142_500_000_000)
        #expect(feeder.feed(#"{"log":"16 KiB piece, ","stream":"stdout","time":"2026-12-06T10:15:43Z"}"#).isEmpty)
        let out = feeder.feed(#"{"log":"its end\n","stream":"stdout","time":"2026-12-06T10:15:43Z"}"#)
        #expect(out.compactMap(\.record).map(\.message) == ["16 KiB piece, its end"])
        #expect(out[0].spans.count == 2)
    }

    @Test func formatIsToldPerFile() {
        var feeder = Feeder()
        #expect(feeder.feed(#"{"log":"docker\n","stream":"stdout","time":"2026-12-06T10:15:42Z"}"#, file: 1).count == 1)
        let cri = feeder.feed("2026-12-06T10:15:42Z stdout F cri", file: 2)
        #expect(cri.compactMap(\.record).map(\.message) == ["cri"])
        #expect(feeder.errors == 0)
    }

    @Test func oneByteAtATimePiecesJoinToTheWholeLine() {
        var feeder = Feeder()
        let text = "héllo, wörld"
        var out: [DecodedRecord] = []
        for byte in text.utf8 {
            // Pieces cut inside a character: only the joined line is text.
            out += feeder.feedRaw(Array("2026-12-06T10:15:42Z stdout P ".utf8) + [byte])
        }
        out += feeder.feed("2026-12-06T10:15:42Z stdout F ")
        #expect(out.compactMap(\.record).map(\.message) == [text])
        #expect(out.flatMap(\.spans).count == text.utf8.count + 1, "every piece's line is acknowledged with it")
    }

    @Test func malformedLinesAreKeptRawAndCountedWithoutDisturbingAPendingLine() {
        var feeder = Feeder()
        #expect(feeder.feed("2026-12-06T10:15:42Z stdout P start ").isEmpty)
        var out: [DecodedRecord] = []
        for bad in ["not a cri line", "2026-13-45T99:00:00Z stdout F bad time", "2026-12-06T10:15:42Z stdin F x", ""] {
            out += feeder.feed(bad)
        }
        #expect(
            out.compactMap(\.record).map(\.message) == [
                "not a cri line", "2026-13-45T99:00:00Z stdout F bad time",
                "2026-12-06T10:15:42Z stdin F x", "",
            ])
        #expect(out.allSatisfy { $0.spans.count == 1 })
        #expect(out.allSatisfy { $0.record?.resource["k8s.pod.uid"] == .string(Self.uid) })
        #expect(feeder.errors == 4)
        #expect(feeder.feed("2026-12-06T10:15:43Z stdout F end").compactMap(\.record).map(\.message) == ["start end"])
        var docker = Feeder()
        let broken = docker.feed(#"{"log":"unterminated"#)
        #expect(broken.compactMap(\.record).map(\.message) == [#"{"log":"unterminated"#])
        #expect(docker.errors == 1)
    }

    @Test func longPiecesAndLongJoinedLinesAreCutAndCounted() {
        var feeder = Feeder(limits: ContainerLogLimits(maxLineBytes: 8, maxMergedLineBytes: 12))
        let long = feeder.feed("2026-12-06T10:15:42Z stdout F 0123456789abcdef")
        #expect(long.compactMap(\.record).map(\.message) == ["01234567"])
        #expect(feeder.lostToLongLines == 8)
        #expect(feeder.feed("2026-12-06T10:15:42Z stdout P abcdefgh").isEmpty)
        #expect(feeder.feed("2026-12-06T10:15:42Z stdout P ijklmnop").isEmpty)
        let joined = feeder.feed("2026-12-06T10:15:42Z stdout F qrst")
        #expect(joined.compactMap(\.record).map(\.message) == ["abcdefghijkl"])
        #expect(joined[0].spans.count == 3, "pieces past the limit are still acknowledged with the record")
        #expect(feeder.lostToLongLines == 8 + 8)
    }

    @Test func flushHandsOverAPendingLineAndReleasesThePod() {
        let index = PodMetadataIndex()
        var feeder = Feeder(metadata: index)
        index.replaceAll([PodMetadata(namespace: "shop", name: "web-5f7c9d8b4-abcde", uid: Self.uid)])
        index.delete(PodMetadata(namespace: "shop", name: "web-5f7c9d8b4-abcde", uid: Self.uid))
        #expect(index.pod(uid: Self.uid)?.isDeleted == true, "held by the decoder since it was made")
        #expect(feeder.feed("2026-12-06T10:15:42Z stdout P never ended").isEmpty)
        let out = feeder.flush()
        #expect(out.compactMap(\.record).map(\.message) == ["never ended"])
        #expect(index.pod(uid: Self.uid) == nil, "released at the stream's end")
    }

    @Test func podMetadataBecomesResourceAttributesAndLabelRulesDropRecordsButNotTheirSpans() throws {
        let index = PodMetadataIndex()
        index.setNodeLabels([
            "topology.kubernetes.io/zone": "eu-west-1b", "topology.kubernetes.io/region": "eu-west-1",
            "node.kubernetes.io/instance-type": "m6i.large", "kubernetes.io/os": "linux",
        ])
        var feeder = Feeder(
            metadata: index, exclude: PodLogRules(podLabels: try LabelSelector(parsing: "tier=debug")))
        let before = try #require(feeder.feed("2026-12-06T10:15:42Z stdout F early").first?.record)
        #expect(before.resource["k8s.pod.label.app"] == nil, "not known yet: sent without")
        #expect(before.resource["cloud.availability_zone"] == .string("eu-west-1b"))
        index.update(
            PodMetadata(
                namespace: "shop", name: "web-5f7c9d8b4-abcde", uid: Self.uid, labels: ["app": "web"],
                annotations: ["team": "checkout"], owner: WorkloadOwner(kind: "Deployment", name: "web")))
        let record = try #require(feeder.feed("2026-12-06T10:15:43Z stdout F known").first?.record)
        #expect(record.resource["k8s.pod.label.app"] == .string("web"))
        #expect(record.resource["k8s.pod.annotation.team"] == .string("checkout"))
        #expect(record.resource["k8s.deployment.name"] == .string("web"))
        #expect(record.resource["cloud.region"] == .string("eu-west-1"))
        #expect(record.resource["host.type"] == .string("m6i.large"))
        #expect(record.resource["k8s.pod.name"] == .string("web-5f7c9d8b4-abcde"))
        index.update(
            PodMetadata(
                namespace: "shop", name: "web-5f7c9d8b4-abcde", uid: Self.uid, labels: ["app": "web", "tier": "debug"]))
        let dropped = feeder.feed("2026-12-06T10:15:44Z stdout F excluded")
        #expect(dropped.count == 1)
        #expect(dropped[0].record == nil)
        #expect(dropped[0].spans.count == 1, "acknowledged without a record")
    }

    // MARK: Discovery

    @Test func discoveryFindsLiveAndRotatedFilesOldestFirstAndSkipsTheRest() throws {
        let root = try makeTemporaryDirectory()
        defer { removeTree(root) }
        let web = root + "/shop_web-abc_uid-1"
        for name in [
            "app/0.log", "app/0.log.20261206-100000", "app/0.log.20261206-090000", "app/0.log.20261206-080000.gz",
            // `gzip` at work: the plain file is the one to read until it is gone.
            "app/0.log.20261206-070000", "app/0.log.20261206-070000.gz", "app/0.log.20261206-110000.gz.tmp",
            "app/0.log.20261206-110000.tmp", "app/1.log", "app/notes.txt", "sidecar/0.log",
        ] {
            try writeFile(web + "/" + name, "x\n")
        }
        try writeFile(root + "/kube-system_coredns-1_uid-2/coredns/0.log", "x\n")
        try writeFile(root + "/not-a-pod/app/0.log", "x\n")
        try writeFile(root + "/stray.log", "x\n")
        let discovery = PodLogDiscovery(
            podsRoot: root, include: PodLogRules(), exclude: PodLogRules(containers: ["sidecar"]))
        let (files, directories) = discovery.scan()
        let ordered = files.sorted { ($0.stream, $0.order) < ($1.stream, $1.order) }
        #expect(
            ordered.map { String($0.path.dropFirst(root.count)) } == [
                "/kube-system_coredns-1_uid-2/coredns/0.log", "/shop_web-abc_uid-1/app/0.log.20261206-070000",
                "/shop_web-abc_uid-1/app/0.log.20261206-080000.gz", "/shop_web-abc_uid-1/app/0.log.20261206-090000",
                "/shop_web-abc_uid-1/app/0.log.20261206-100000", "/shop_web-abc_uid-1/app/0.log",
                "/shop_web-abc_uid-1/app/1.log",
            ])
        #expect(ordered.map(\.isCompressed) == [false, false, true, false, false, false, false])
        #expect(Set(ordered.prefix(6).dropFirst().map(\.stream)) == [web + "/app/0.log"])
        #expect(ordered.last?.stream == web + "/app/1.log")
        #expect(
            Set(directories) == [
                root, web, web + "/app", root + "/kube-system_coredns-1_uid-2",
                root + "/kube-system_coredns-1_uid-2/coredns",
            ])
        let onlyShop = PodLogDiscovery(
            podsRoot: root, include: PodLogRules(namespaces: ["shop"]), exclude: PodLogRules())
        #expect(
            Set(onlyShop.scan().files.map(\.stream)) == [
                web + "/app/0.log", web + "/app/1.log", web + "/sidecar/0.log",
            ])
    }

    @Test func streamPathsNameThePodAndContainer() {
        let path = PodLogPath(stream: Self.stream)
        #expect(path?.namespace == "shop")
        #expect(path?.pod == "web-5f7c9d8b4-abcde")
        #expect(path?.uid == Self.uid)
        #expect(path?.container == "app")
        #expect(path?.restartCount == 2)
        #expect(PodLogPath(stream: "/var/log/pods/no-underscores/app/0.log") == nil)
        #expect(PodLogFileName("0.log.20261206-100000")?.rotation == "20261206-100000")
        let compressed = PodLogFileName("0.log.20261206-100000.gz")
        #expect(compressed?.rotation == "20261206-100000" && compressed?.isCompressed == true)
        #expect(PodLogFileName("0.log.20261206-100000.gz.tmp") == nil)
        #expect(PodLogFileName("x.log") == nil)
        #expect(PodLogFileName("0.logs") == nil)
    }
}

extension KubernetesLogsDecodingTests.Feeder {
    /// Feeds one line given as bytes.
    mutating func feedRaw(_ bytes: [UInt8], file: UInt64 = 1) -> [DecodedRecord] {
        let start = offsets[file, default: 0]
        offsets[file] = start + Int64(bytes.count) + 1
        var output: [DecodedRecord] = []
        decoder.decode(
            SourcedLine(
                line: FileLine(bytes: bytes, range: start..<(start + Int64(bytes.count) + 1)), file: file,
                path: "/logs/\(file)"),
            into: &output)
        return output
    }
}
