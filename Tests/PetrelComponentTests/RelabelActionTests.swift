import Testing

@testable import PetrelCore
@testable import PetrelTransforms

/// Each relabel action on label sets, with the examples of the Prometheus documentation.
@Suite struct RelabelActionTests {
    // MARK: replace

    @Test func replaceJoinsAddressAndPortAsInTheKubernetesExample() throws {
        for replacement: ComponentConfigValue in ["$1:$2", "${1}:${2}"] {
            let rules: [ComponentConfigValue] = [
                [
                    "source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                    "action": "replace", "regex": #"([^:]+)(?::\d+)?;(\d+)"#, "replacement": replacement,
                    "target_label": "__address__",
                ]
            ]
            #expect(
                try Relabel.apply(
                    rules,
                    to: ["__address__": "10.1.2.3:8080", "__meta_kubernetes_pod_annotation_prometheus_io_port": "9102"])
                    == ["__address__=10.1.2.3:9102", "__meta_kubernetes_pod_annotation_prometheus_io_port=9102"])
            // No annotation: the joined value `10.1.2.3:8080;` does not match, so nothing changes.
            #expect(try Relabel.apply(rules, to: ["__address__": "10.1.2.3:8080"]) == ["__address__=10.1.2.3:8080"])
        }
    }

    @Test func replaceWithDefaultsCopiesOneLabelToAnother() throws {
        let rules: [ComponentConfigValue] = [["source_labels": ["instance"], "target_label": "host"]]
        #expect(try Relabel.apply(rules, to: ["instance": "a:9100"]) == ["host=a:9100", "instance=a:9100"])
    }

    @Test func replaceSetsAConstant() throws {
        let rules: [ComponentConfigValue] = [["target_label": "env", "replacement": "prod"]]
        #expect(try Relabel.apply(rules, to: ["job": "api"]) == ["env=prod", "job=api"])
        #expect(try Relabel.apply(rules, to: ["env": "dev", "job": "api"]) == ["env=prod", "job=api"])
    }

    @Test func replaceDeletesTheTargetWhenTheReplacementIsEmpty() throws {
        let explicit: [ComponentConfigValue] = [
            ["source_labels": ["job"], "regex": ".*", "target_label": "team", "replacement": ""]
        ]
        #expect(try Relabel.apply(explicit, to: ["job": "api", "team": "core"]) == ["job=api"])
        // A missing source label is the empty string; `(.*)` matches it, `$1` is empty: the target goes.
        let missing: [ComponentConfigValue] = [["source_labels": ["nope"], "target_label": "team"]]
        #expect(try Relabel.apply(missing, to: ["job": "api", "team": "core"]) == ["job=api"])
    }

    @Test func replaceDoesNothingWithoutAMatch() throws {
        let rules: [ComponentConfigValue] = [
            ["source_labels": ["job"], "regex": "web", "target_label": "team", "replacement": "x"]
        ]
        #expect(try Relabel.apply(rules, to: ["job": "api"]) == ["job=api"])
    }

    @Test func replaceExpandsTheTargetLabel() throws {
        let rules: [ComponentConfigValue] = [
            [
                "source_labels": ["__name__"], "regex": "(.+)_(seconds|bytes)", "target_label": "unit_$2",
                "replacement": "$1",
            ]
        ]
        #expect(
            try Relabel.apply(rules, to: ["__name__": "http_duration_seconds"])
                == ["__name__=http_duration_seconds", "unit_seconds=http_duration"])
        // A target that expands to an invalid name (here it starts with a digit) leaves the labels alone.
        let invalid: [ComponentConfigValue] = [
            ["source_labels": ["v"], "regex": "(.*)", "target_label": "$1", "replacement": "x"]
        ]
        #expect(try Relabel.apply(invalid, to: ["v": "1abc"]) == ["v=1abc"])
        #expect(try Relabel.apply(invalid, to: ["v": "ok"]) == ["ok=x", "v=ok"])
        // A target expanding to nothing is no name at all.
        #expect(try Relabel.apply(invalid, to: ["w": "1"]) == ["w=1"])
    }

    @Test func dollarOneUnderscoreIsAGroupNamedOneUnderscore() throws {
        // The well-known gotcha: `$1_x` refers to a group named `1_x`, which does not exist, so the
        // replacement is empty and the target is deleted. `${1}_x` is what was meant.
        let gotcha: [ComponentConfigValue] = [["source_labels": ["a"], "target_label": "b", "replacement": "$1_x"]]
        #expect(try Relabel.apply(gotcha, to: ["a": "foo", "b": "old"]) == ["a=foo"])
        let braced: [ComponentConfigValue] = [["source_labels": ["a"], "target_label": "b", "replacement": "${1}_x"]]
        #expect(try Relabel.apply(braced, to: ["a": "foo", "b": "old"]) == ["a=foo", "b=foo_x"])
    }

    @Test func namedGroupsInBothSpellings() throws {
        for regex: ComponentConfigValue in [#"(?P<host>[^:]+):(?P<port>\d+)"#, #"(?<host>[^:]+):(?<port>\d+)"#] {
            let rules: [ComponentConfigValue] = [
                [
                    "source_labels": ["instance"], "regex": regex, "target_label": "endpoint",
                    "replacement": "${port}@$host",
                ]
            ]
            #expect(
                try Relabel.apply(rules, to: ["instance": "node1:9100"]) == [
                    "endpoint=9100@node1", "instance=node1:9100",
                ])
        }
    }

    @Test func missingSourceLabelsAreEmptyStringsBetweenSeparators() throws {
        let rules: [ComponentConfigValue] = [
            ["source_labels": ["a", "missing", "b"], "separator": "-", "target_label": "joined"]
        ]
        #expect(try Relabel.apply(rules, to: ["a": "1", "b": "2"]) == ["a=1", "b=2", "joined=1--2"])
        let defaultSeparator: [ComponentConfigValue] = [["source_labels": ["a", "b"], "target_label": "joined"]]
        #expect(try Relabel.apply(defaultSeparator, to: ["a": "1"]) == ["a=1", "joined=1;"])
        let emptySeparator: [ComponentConfigValue] = [
            ["source_labels": ["a", "b"], "separator": "", "target_label": "joined"]
        ]
        #expect(try Relabel.apply(emptySeparator, to: ["a": "1", "b": "2"]) == ["a=1", "b=2", "joined=12"])
    }

    @Test func dollarSignsThatAreText() throws {
        let rules: [ComponentConfigValue] = [
            ["source_labels": ["a"], "target_label": "b", "replacement": "$$1 costs $ and ${ and $1"]
        ]
        #expect(try Relabel.apply(rules, to: ["a": "x"]) == ["a=x", "b=$1 costs $ and ${ and x"])
    }

    // MARK: keep, drop

    @Test func keepByMetricName() throws {
        let rules: [ComponentConfigValue] = [["source_labels": ["__name__"], "regex": "http_.*|up", "action": "keep"]]
        #expect(try Relabel.apply(rules, to: ["__name__": "http_requests_total"]) == ["__name__=http_requests_total"])
        #expect(try Relabel.apply(rules, to: ["__name__": "up"]) == ["__name__=up"])
        #expect(try Relabel.apply(rules, to: ["__name__": "node_load1"]) == nil)
        // Anchored: `up` must be the whole name.
        #expect(try Relabel.apply(rules, to: ["__name__": "upstream"]) == nil)
    }

    @Test func dropByMetricName() throws {
        let rules: [ComponentConfigValue] = [["source_labels": ["__name__"], "regex": "debug_.*", "action": "drop"]]
        #expect(try Relabel.apply(rules, to: ["__name__": "debug_allocs"]) == nil)
        #expect(try Relabel.apply(rules, to: ["__name__": "allocs_debug_x"]) == ["__name__=allocs_debug_x"])
    }

    @Test func dropStopsTheRulesAfterIt() throws {
        let rules: [ComponentConfigValue] = [
            ["source_labels": ["job"], "regex": "drop_me", "action": "drop"],
            ["target_label": "seen", "replacement": "yes"],
        ]
        #expect(try Relabel.apply(rules, to: ["job": "drop_me"]) == nil)
        #expect(try Relabel.apply(rules, to: ["job": "keep_me"]) == ["job=keep_me", "seen=yes"])
    }

    @Test func keepOnAMissingLabelMatchesTheEmptyString() throws {
        let rules: [ComponentConfigValue] = [["source_labels": ["team"], "regex": "", "action": "keep"]]
        #expect(try Relabel.apply(rules, to: ["job": "a"]) == ["job=a"])
        #expect(try Relabel.apply(rules, to: ["job": "a", "team": "x"]) == nil)
    }

    // MARK: hashmod

    @Test func hashmodShardsAsInThePrometheusExample() throws {
        // Expected shards from: python3 -c "import hashlib; d=hashlib.md5(b'10.0.0.1:9100').digest();
        // print(int.from_bytes(d[8:], 'big') % 4)" (and likewise for .2 and .3): 1, 1, 3.
        let rules: [ComponentConfigValue] = [
            ["source_labels": ["__address__"], "modulus": 4, "target_label": "__tmp_hash", "action": "hashmod"],
            ["source_labels": ["__tmp_hash"], "regex": "^1$", "action": "keep"],
        ]
        #expect(
            try Relabel.apply(rules, to: ["__address__": "10.0.0.1:9100"]) == [
                "__address__=10.0.0.1:9100", "__tmp_hash=1",
            ])
        #expect(
            try Relabel.apply(rules, to: ["__address__": "10.0.0.2:9100"]) == [
                "__address__=10.0.0.2:9100", "__tmp_hash=1",
            ])
        #expect(try Relabel.apply(rules, to: ["__address__": "10.0.0.3:9100"]) == nil)
    }

    @Test func hashmodValuesMatchPythonsMD5() throws {
        // Computed with python3: int.from_bytes(hashlib.md5(value.encode()).digest()[8:], 'big') % modulus.
        let cases:
            [(
                labels: KeyValuePairs<String, String>, sources: [ComponentConfigValue], modulus: String,
                expected: String
            )] = [
                (["a": "node-a"], ["a"], "3", "0"),
                (["a": "x"], ["missing"], "10", "8"),  // md5("") ends 0xe9800998ecf8427e
                (["a": "foo", "b": "bar"], ["a", "b"], "1000", "750"),  // md5("foo;bar")
                (["a": "foo"], ["a"], "18446744073709551615", "17145033699835028696"),
                (["u": "http://example.com:8080/metrics"], ["u"], "8", "4"),
                (["job": "api", "instance": "10.1.2.3:8080"], ["job", "instance"], "16", "13"),
            ]
        for test in cases {
            let rules: [ComponentConfigValue] = [
                [
                    "source_labels": .list(test.sources), "modulus": .scalar(test.modulus), "target_label": "shard",
                    "action": "hashmod",
                ]
            ]
            let result = try #require(try Relabel.apply(rules, to: test.labels))
            #expect(result.contains("shard=\(test.expected)"), "\(test.labels) mod \(test.modulus)")
        }
    }

    // MARK: labelmap, labeldrop, labelkeep

    @Test func labelmapCopiesKubernetesPodLabels() throws {
        let rules: [ComponentConfigValue] = [["regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"]]
        #expect(
            try Relabel.apply(
                rules,
                to: [
                    "__meta_kubernetes_pod_label_app": "api", "__meta_kubernetes_pod_label_team": "core", "job": "k8s",
                ])
                == [
                    "__meta_kubernetes_pod_label_app=api", "__meta_kubernetes_pod_label_team=core", "app=api",
                    "job=k8s",
                    "team=core",
                ])
    }

    @Test func labelmapWithAReplacementTemplate() throws {
        let rules: [ComponentConfigValue] = [
            ["regex": "meta_(\\w+)_(\\w+)", "replacement": "${2}_$1", "action": "labelmap"]
        ]
        #expect(
            try Relabel.apply(rules, to: ["meta_pod_name": "p1", "x": "y"]) == [
                "meta_pod_name=p1", "name_pod=p1", "x=y",
            ])
        // The mapped name overwrites an existing label of that name.
        let over: [ComponentConfigValue] = [["regex": "tmp_(.+)", "action": "labelmap"]]
        #expect(try Relabel.apply(over, to: ["job": "old", "tmp_job": "new"]) == ["job=new", "tmp_job=new"])
    }

    @Test func labelmapSkipsNamesThatAreNotLabelNames() throws {
        // `x_9` maps to `9`, which does not start with a letter or underscore.
        let rules: [ComponentConfigValue] = [["regex": "x_(.*)", "action": "labelmap"]]
        #expect(try Relabel.apply(rules, to: ["x_9": "a", "x_ok": "b"]) == ["ok=b", "x_9=a", "x_ok=b"])
    }

    @Test func labeldropAndLabelkeep() throws {
        let labels: KeyValuePairs<String, String> = [
            "__name__": "up", "__meta_a": "1", "__meta_b": "2", "job": "api", "instance": "i",
        ]
        let drop: [ComponentConfigValue] = [["regex": "__meta_.*", "action": "labeldrop"]]
        #expect(try Relabel.apply(drop, to: labels) == ["__name__=up", "instance=i", "job=api"])
        let keep: [ComponentConfigValue] = [["regex": "__name__|job", "action": "labelkeep"]]
        #expect(try Relabel.apply(keep, to: labels) == ["__name__=up", "job=api"])
    }

    @Test func aSeriesLeftWithoutLabelsIsDropped() throws {
        let rules: [ComponentConfigValue] = [["regex": ".*", "action": "labeldrop"]]
        #expect(try Relabel.apply(rules, to: ["a": "1"]) == nil)
        // A series without `__name__` is fine.
        let nameless: [ComponentConfigValue] = [["regex": "__name__", "action": "labeldrop"]]
        #expect(try Relabel.apply(nameless, to: ["__name__": "up", "a": "1"]) == ["a=1"])
    }

    // MARK: lowercase, uppercase

    @Test func lowercaseAndUppercase() throws {
        let lower: [ComponentConfigValue] = [["source_labels": ["Env"], "target_label": "env", "action": "lowercase"]]
        #expect(try Relabel.apply(lower, to: ["Env": "PROD-EU"]) == ["Env=PROD-EU", "env=prod-eu"])
        let upper: [ComponentConfigValue] = [
            ["source_labels": ["a", "b"], "target_label": "ab", "action": "uppercase"]
        ]
        #expect(try Relabel.apply(upper, to: ["a": "x", "b": "Straße"]) == ["a=x", "ab=X;STRAßE", "b=Straße"])
        // An empty value deletes the target, as setting any label to "" does in Prometheus.
        #expect(try Relabel.apply(lower, to: ["env": "old"]) == nil)
        #expect(try Relabel.apply(lower, to: ["env": "old", "job": "a"]) == ["job=a"])
    }

    @Test func caseMappingIsGosOneToOneMapping() {
        func mapped(_ text: String, upper: Bool) -> String {
            var output: [UInt8] = []
            var text = text
            text.withUTF8 { RelabelRule.changeCase(UnsafeRawBufferPointer($0), upper: upper, into: &output) }
            return String(decoding: output, as: UTF8.self)
        }
        #expect(mapped("Hello-World_9", upper: false) == "hello-world_9")
        #expect(mapped("Hello-World_9", upper: true) == "HELLO-WORLD_9")
        #expect(mapped("ÀÉÎ Σ", upper: false) == "àéî σ")
        #expect(mapped("straße", upper: true) == "STRAßE")
        #expect(mapped("\u{130}", upper: false) == "i")
        #expect(mapped("\u{1FB3}", upper: true) == "\u{1FBC}")
        #expect(mapped("ﬀ", upper: true) == "ﬀ")
    }

    // MARK: keepequal, dropequal

    @Test func keepequalAndDropequal() throws {
        let port = "__meta_kubernetes_pod_container_port_number"
        let annotation = "__meta_kubernetes_pod_annotation_prometheus_io_port"
        let keep: [ComponentConfigValue] = [
            ["source_labels": .list([.scalar(port)]), "target_label": .scalar(annotation), "action": "keepequal"]
        ]
        #expect(try Relabel.apply(keep, to: [port: "8080", annotation: "8080"]) != nil)
        #expect(try Relabel.apply(keep, to: [port: "8080", annotation: "9090"]) == nil)
        // A missing target is the empty string.
        #expect(try Relabel.apply(keep, to: [port: "8080"]) == nil)
        let drop: [ComponentConfigValue] = [
            ["source_labels": .list([.scalar(port)]), "target_label": .scalar(annotation), "action": "dropequal"]
        ]
        #expect(try Relabel.apply(drop, to: [port: "8080", annotation: "8080"]) == nil)
        #expect(try Relabel.apply(drop, to: [port: "8080", annotation: "9090"]) != nil)
        let joined: [ComponentConfigValue] = [
            ["source_labels": ["a", "b"], "target_label": "c", "action": "keepequal"]
        ]
        #expect(try Relabel.apply(joined, to: ["a": "1", "b": "2", "c": "1;2"]) != nil)
    }

    @Test func actionsAreCaseInsensitive() throws {
        let rules: [ComponentConfigValue] = [["source_labels": ["job"], "regex": "x", "action": "Drop"]]
        #expect(try Relabel.apply(rules, to: ["job": "x"]) == nil)
    }
}
