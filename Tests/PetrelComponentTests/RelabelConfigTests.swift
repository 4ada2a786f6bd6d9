import Testing

@testable import PetrelCore
@testable import PetrelTransforms

/// Reading `relabel` rules: defaults, and the checks Prometheus makes, each error naming its rule.
@Suite struct RelabelConfigTests {
    private func errors(_ rule: ComponentConfigValue) -> [String] {
        Relabel.errors([rule])
    }

    @Test func definitionIsARelabelTransformForMetrics() {
        #expect(RelabelTransform.definition.type == "relabel")
        #expect(RelabelTransform.definition.kind == .transform)
        let built = Relabel.build([["target_label": "env", "replacement": "prod"]])
        #expect(built.errors == [])
        #expect(built.transform?.rules.count == 1)
    }

    @Test func defaultsAreThoseOfPrometheus() throws {
        let diagnostics = ConfigDiagnostics(file: "t")
        let node = ComponentConfigValue.map([(key: "target_label", value: "x")]).configNode()
        let rule = try #require(RelabelRuleConfig.parse(ConfigReader(node: node, path: "r", diagnostics: diagnostics)))
        #expect(rule == RelabelRuleConfig(targetLabel: "x"))
        #expect(rule.separator == ";")
        #expect(rule.regex == "(.*)")
        #expect(rule.replacement == "$1")
        #expect(rule.action == .replace)
        #expect(rule.modulus == 0)
        #expect(rule.sourceLabels == nil)
        // Without a target label those defaults are an error, as in Prometheus.
        #expect(
            Relabel.errors([.map([])]) == [
                "petrel.yaml: transforms.r.rules[0].target_label: relabel configuration for replace action requires 'target_label' value"
            ])
    }

    @Test func invalidRegexNamesTheRuleIndex() {
        let errors = Relabel.errors([
            ["target_label": "a", "replacement": "b"],
            ["source_labels": ["job"], "regex": "api", "action": "keep"],
            ["source_labels": ["job"], "regex": "a(b", "action": "drop"],
        ])
        #expect(errors.count == 1)
        #expect(
            errors.first?.hasPrefix(#"petrel.yaml: transforms.r.rules[2].regex: invalid regular expression "a(b": "#)
                == true)
    }

    @Test func regexesRE2RejectsAreRejected() {
        for (pattern, message) in [
            (#"(a)\1"#, #"invalid escape sequence: `\1`"#),
            ("(?=a)a", "invalid or unsupported Perl syntax: `(?=`"),
            ("(?<!a)b", "invalid named capture: `(?<!a)b`"),
            ("a++", "invalid nested repetition operator: `++`"),
            ("(?x)a b", "invalid or unsupported Perl syntax: `(?x`"),
            (#"\h"#, #"invalid escape sequence: `\h`"#),
            ("a{1001}", "invalid repeat count: `{1001}`"),
        ] {
            #expect(
                errors(["source_labels": ["a"], "regex": .scalar(pattern), "action": "keep"]) == [
                    #"petrel.yaml: transforms.r.rules[0].regex: invalid regular expression "\#(pattern)": \#(message)"#
                ])
        }
    }

    @Test func unknownActionListsTheAllowedOnes() {
        #expect(
            errors(["source_labels": ["a"], "action": "replase"]) == [
                #"petrel.yaml: transforms.r.rules[0].action: unknown relabel action "replase"; expected one of "#
                    + "replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase"
            ])
    }

    @Test func unknownKeysAreReportedPerRule() {
        #expect(
            Relabel.errors([
                ["target_label": "a"],
                ["source_labels": ["a"], "regx": "x", "action": "keep"],
            ]) == ["petrel.yaml: transforms.r.rules[1].regx: unknown key"])
        #expect(
            Relabel.build([["target_label": "a"]], extra: [("rulez", [])]).errors == [
                "petrel.yaml: transforms.r.rulez: unknown key"
            ])
    }

    @Test func rulesAreRequiredAndNotEmpty() {
        let missing = buildComponent(
            RelabelTransform.definition, at: Relabel.path, ComponentConfigValue.map([]).configNode())
        #expect(missing.errors == ["petrel.yaml: transforms.r.rules: is required"])
        #expect(Relabel.errors([]) == ["petrel.yaml: transforms.r.rules: needs at least one rule"])
    }

    @Test func targetLabelIsRequiredWhereAnActionWritesOne() {
        for action in ["replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"] {
            let rule: ComponentConfigValue = ["source_labels": ["a"], "action": .scalar(action), "modulus": 2]
            let expected = "relabel configuration for \(action) action requires 'target_label' value"
            #expect(errors(rule) == ["petrel.yaml: transforms.r.rules[0].target_label: \(expected)"], "\(action)")
        }
    }

    @Test func hashmodNeedsAModulus() {
        #expect(
            errors(["source_labels": ["a"], "target_label": "s", "action": "hashmod"]) == [
                "petrel.yaml: transforms.r.rules[0].modulus: relabel configuration for hashmod requires non-zero modulus"
            ])
        #expect(
            errors(["source_labels": ["a"], "target_label": "s", "action": "hashmod", "modulus": -1]) == [
                #"petrel.yaml: transforms.r.rules[0].modulus: expected a whole number of 0 or more, found "-1""#
            ])
    }

    @Test func targetLabelMustBeALabelName() {
        #expect(
            errors(["source_labels": ["a"], "target_label": "1abc"]) == [
                #"petrel.yaml: transforms.r.rules[0].target_label: "1abc" is invalid 'target_label' for replace action"#
            ])
        // With `$`, the template must be able to expand to a name.
        #expect(errors(["source_labels": ["a"], "target_label": "x_${1}_$name"]) == [])
        #expect(
            errors(["source_labels": ["a"], "target_label": "foo$"]) == [
                #"petrel.yaml: transforms.r.rules[0].target_label: "foo$" is invalid 'target_label' for replace action"#
            ])
        #expect(
            errors(["source_labels": ["a"], "target_label": "a-b", "action": "lowercase"]) == [
                #"petrel.yaml: transforms.r.rules[0].target_label: "a-b" is invalid 'target_label' for lowercase action"#
            ])
    }

    @Test func labelmapReplacementMustBeANameTemplate() {
        #expect(
            errors(["regex": "(.*)", "replacement": "a-$1", "action": "labelmap"]) == [
                #"petrel.yaml: transforms.r.rules[0].replacement: "a-$1" is invalid 'replacement' for labelmap action"#
            ])
    }

    @Test func fieldsSomeActionsDoNotTake() {
        #expect(
            errors(["source_labels": ["a"], "target_label": "b", "replacement": "x", "action": "uppercase"]) == [
                "petrel.yaml: transforms.r.rules[0].replacement: 'replacement' can not be set for uppercase action"
            ])
        #expect(
            errors(["source_labels": ["a"], "target_label": "b", "regex": "x", "action": "keepequal"]) == [
                "petrel.yaml: transforms.r.rules[0]: keepequal action requires only 'source_labels' and `target_label`, and no other fields"
            ])
        #expect(
            errors(["source_labels": ["a"], "target_label": "b", "separator": ",", "action": "dropequal"]) == [
                "petrel.yaml: transforms.r.rules[0]: dropequal action requires only 'source_labels' and `target_label`, and no other fields"
            ])
        for extra: (String, ComponentConfigValue) in [
            ("source_labels", ["a"]), ("target_label", "b"), ("modulus", 2), ("separator", ","), ("replacement", "x"),
        ] {
            let rule = ComponentConfigValue.map([
                (key: "regex", value: "tmp_.*"), (key: "action", value: "labeldrop"), (key: extra.0, value: extra.1),
            ])
            #expect(
                errors(rule) == [
                    "petrel.yaml: transforms.r.rules[0]: labeldrop action requires only 'regex', and no other fields"
                ],
                "\(extra.0)")
        }
        #expect(errors(["regex": "tmp_.*", "action": "labelkeep"]) == [])
    }

    @Test func sourceLabelsMustBeLabelNamesUnlessUTF8IsAllowed() throws {
        let rule: ComponentConfigValue = ["source_labels": ["ok", "service.name"], "target_label": "svc"]
        #expect(
            errors(rule) == [
                #"petrel.yaml: transforms.r.rules[0].source_labels[1]: "service.name" is not a valid label name"#
            ])
        let utf8 = Relabel.build([rule], extra: [("label_name_validation", "utf8")])
        #expect(utf8.errors == [])
        var rules = try #require(utf8.transform).rules
        #expect(Relabel.render(rules.apply(to: [("service.name", "api")])) == ["service.name=api", "svc=;api"])
    }

    @Test func utf8NamesAllowDotsInTargets() throws {
        let built = Relabel.build(
            [["source_labels": ["a"], "target_label": "k8s.pod", "action": "replace"]],
            extra: [("label_name_validation", "utf8")])
        #expect(built.errors == [])
        var rules = try #require(built.transform).rules
        #expect(Relabel.render(rules.apply(to: [("a", "p")])) == ["a=p", "k8s.pod=p"])
        #expect(errors(["source_labels": ["a"], "target_label": "k8s.pod"]).count == 1)
    }

    @Test func nullValuesAreEmptyStringsAsInPrometheus() throws {
        // `replacement:` with nothing after it is "", which deletes the target.
        #expect(
            try Relabel.apply(
                [["source_labels": ["a"], "target_label": "b", "replacement": nil]], to: ["a": "1", "b": "2"]) == [
                    "a=1"
                ])
        #expect(
            try Relabel.apply(
                [["source_labels": ["a", "b"], "separator": nil, "target_label": "c"]], to: ["a": "1", "b": "2"]) == [
                    "a=1", "b=2", "c=12",
                ])
    }

    @Test func everyRuleWithAnErrorIsReported() {
        let errors = Relabel.errors([
            ["source_labels": ["a"], "regex": "(", "action": "keep"],
            ["target_label": "ok"],
            ["action": "hashmod", "target_label": "x"],
        ])
        #expect(errors.count == 2)
        #expect(errors.first?.contains("rules[0].regex") == true)
        #expect(errors.last?.contains("rules[2].modulus") == true)
    }

    @Test func compilingRulesDirectlyThrowsTheRuleAtFault() {
        #expect(throws: RelabelRuleError.self) {
            _ = try RelabelRules([RelabelRuleConfig(targetLabel: "a"), RelabelRuleConfig(regex: "[", targetLabel: "b")])
        }
        do {
            _ = try RelabelRules([RelabelRuleConfig(targetLabel: "a"), RelabelRuleConfig(regex: "[", targetLabel: "b")])
        } catch {
            #expect(error.description.hasPrefix(#"rules[1].regex: invalid regular expression "[": missing closing ]"#))
        }
    }
}
