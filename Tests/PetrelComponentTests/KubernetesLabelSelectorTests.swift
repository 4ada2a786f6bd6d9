import Testing

@testable import PetrelSources

/// Label selectors as `kubectl get pods -l` reads them, and the errors a user sees for a bad one.
@Suite struct KubernetesLabelSelectorTests {
    private let web = ["app": "web", "tier": "frontend", "env": "prod", "team": "shop"]

    @Test func everyOperatorParsesToItsRequirement() throws {
        let selector = try LabelSelector(
            parsing: "app=web, tier!=db,env in (a, b),!canary,team,track notin (beta),x==y")
        #expect(
            selector.requirements == [
                .equals("app", "web"), .notEquals("tier", "db"), .in("env", ["a", "b"]), .doesNotExist("canary"),
                .exists("team"), .notIn("track", ["beta"]), .equals("x", "y"),
            ])
    }

    @Test func matchingFollowsKubernetes() throws {
        #expect(try LabelSelector(parsing: "app=web,tier!=db,env in (prod,staging),!canary,team").matches(web))
        #expect(try !LabelSelector(parsing: "app=api").matches(web))
        #expect(try !LabelSelector(parsing: "env in (dev,staging)").matches(web))
        #expect(try !LabelSelector(parsing: "!team").matches(web))
        #expect(try !LabelSelector(parsing: "canary").matches(web))
        // != and notin hold for a label that is absent; in and = do not.
        #expect(try LabelSelector(parsing: "canary!=true").matches(web))
        #expect(try LabelSelector(parsing: "canary notin (true)").matches(web))
        #expect(try !LabelSelector(parsing: "canary in (true)").matches(web))
        #expect(try LabelSelector(parsing: "").matches(web))
        #expect(try LabelSelector(parsing: "  ").requirements.isEmpty)
    }

    @Test func prefixedKeysAndEmptyValues() throws {
        let selector = try LabelSelector(parsing: "app.kubernetes.io/name=web,example.com/owner=")
        #expect(selector.requirements == [.equals("app.kubernetes.io/name", "web"), .equals("example.com/owner", "")])
        #expect(selector.matches(["app.kubernetes.io/name": "web", "example.com/owner": ""]))
        #expect(!selector.matches(["app.kubernetes.io/name": "web"]))
    }

    @Test func errorsSayWhatAndWhere() {
        func error(_ text: String) -> String? {
            do {
                _ = try LabelSelector(parsing: text)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(error("app=web,") == "expected a requirement after \",\" at position 8")
        #expect(error("app=web tier=db") == "expected \",\" between requirements, found \"t\" at position 8")
        #expect(error("env in (a,b") == "the set of values is not closed with \")\" at position 11")
        #expect(error("env in a") == "expected \"(\" to open the set of values at position 7")
        #expect(error("env ~ a") == "expected =, ==, !=, in or notin after \"env\", found \"~\" at position 4")
        #expect(error("cpu>2")?.hasPrefix("\">\" is for node selectors") == true)
        #expect(error("=web") == "expected a label key, found \"=\" at position 0")
        #expect(error("!") == "expected a label key at position 1")
        #expect(error("-app=web")?.hasPrefix("\"-app\" is not a label key") == true)
        #expect(error("Example.com/app=web")?.contains("is not a DNS subdomain") == true)
        #expect(error("a/b/c=d")?.contains("more than one \"/\"") == true)
        #expect(error("app=-web")?.hasPrefix("\"-web\" is not a label value") == true)
        #expect(error("app=" + String(repeating: "v", count: 64))?.contains("is not a label value") == true)
    }
}
