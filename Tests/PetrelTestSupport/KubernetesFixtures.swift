/// Kubernetes API payloads in the shape an apiserver (v1.30) sends them, from the API reference: whole pod objects
/// with spec and status, a PodList, watch events, a BOOKMARK, `410 Gone` as an ERROR event and as a Status body.
public enum KubernetesFixtures {
    /// A pod as the apiserver serves it. `owner` is `(kind, name)` of its controller; a ReplicaSet owner gets the
    /// `pod-template-hash` label when `templateHash` is given.
    public static func pod(
        name: String, namespace: String = "shop", uid: String, resourceVersion: String, node: String = "node-a",
        labels: [String: String] = [:], annotations: [String: String] = [:], owner: (kind: String, name: String)? = nil,
        templateHash: String? = nil, containers: [String] = ["app"], deleting: Bool = false
    ) -> String {
        var labels = labels
        if let templateHash { labels["pod-template-hash"] = templateHash }
        let ownerReferences =
            owner.map {
                #","ownerReferences":[{"apiVersion":"\#($0.kind == "Job" ? "batch/v1" : "apps/v1")","kind":"\#($0.kind)","name":"\#($0.name)","uid":"7f3c1e2a-0b6d-4c1e-9a51-\#(uid.suffix(12))","controller":true,"blockOwnerDeletion":true}]"#
            } ?? ""
        let deletion =
            deleting ? #","deletionTimestamp":"2026-12-06T10:15:42Z","deletionGracePeriodSeconds":30"# : ""
        let containerSpecs = containers.map { container in
            #"{"name":"\#(container)","image":"registry.example.com/\#(container):1.4.2","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":[{"name":"NODE_NAME","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"spec.nodeName"}}}],"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}},"volumeMounts":[{"name":"kube-api-access-x7k2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],"livenessProbe":{"httpGet":{"path":"/healthz","port":8080,"scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"runAsNonRoot":true,"capabilities":{"drop":["ALL"]}}}"#
        }.joined(separator: ",")
        let containerStatuses = containers.map { container in
            #"{"name":"\#(container)","state":{"running":{"startedAt":"2026-12-06T09:58:03Z"}},"lastState":{},"ready":true,"restartCount":0,"image":"registry.example.com/\#(container):1.4.2","imageID":"registry.example.com/\#(container)@sha256:4b3a5b8f0e9c2d1a7f6e5d4c3b2a19080706050403020100ffeeddccbbaa9988","containerID":"containerd://9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0","started":true}"#
        }.joined(separator: ",")
        return
            #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"\#(name)","generateName":"\#(name.dropLast(5))","namespace":"\#(namespace)","uid":"\#(uid)","resourceVersion":"\#(resourceVersion)","creationTimestamp":"2026-12-06T09:58:01Z"\#(deletion),"labels":\#(json(labels)),"annotations":\#(json(annotations))\#(ownerReferences),"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-12-06T09:58:01Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:generateName":{},"f:labels":{".":{}}},"f:spec":{"f:containers":{}}}}]},"spec":{"volumes":[{"name":"kube-api-access-x7k2p","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}],"defaultMode":420}}],"containers":[\#(containerSpecs)],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default","nodeName":"\#(node)","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}},"schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-12-06T09:58:04Z"}],"hostIP":"10.0.12.7","hostIPs":[{"ip":"10.0.12.7"}],"podIP":"10.244.3.17","podIPs":[{"ip":"10.244.3.17"}],"startTime":"2026-12-06T09:58:01Z","containerStatuses":[\#(containerStatuses)],"qosClass":"Burstable"}}"#
    }

    /// A `PodList` answer to a LIST.
    public static func podList(resourceVersion: String, pods: [String]) -> String {
        #"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"\#(resourceVersion)"},"items":[\#(pods.joined(separator: ","))]}"#
    }

    /// A watch event line: `ADDED`, `MODIFIED` or `DELETED` with a pod.
    public static func event(_ type: String, _ pod: String) -> String {
        #"{"type":"\#(type)","object":\#(pod)}"#
    }

    /// A BOOKMARK event as the apiserver sends it: an empty pod with only its resourceVersion.
    public static func bookmark(resourceVersion: String) -> String {
        #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"\#(resourceVersion)","creationTimestamp":null,"annotations":{"k8s.io/initial-events-end":"true"}},"spec":{"containers":null},"status":{}}}"#
    }

    /// The ERROR event a watch from a compacted resourceVersion gets.
    public static func goneEvent(requested: String, current: String) -> String {
        #"{"type":"ERROR","object":\#(goneStatus(requested: requested, current: current))}"#
    }

    /// The `Status` of `410 Gone`, as an ERROR event's object or a response body.
    public static func goneStatus(requested: String, current: String) -> String {
        #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: \#(requested) (\#(current))","reason":"Expired","code":410}"#
    }

    /// A node with the well-known topology and instance-type labels.
    public static func node(name: String = "node-a") -> String {
        #"{"kind":"Node","apiVersion":"v1","metadata":{"name":"\#(name)","uid":"3c9d2e51-7a4b-4f0e-8d16-0b2f9e1c4a77","resourceVersion":"88121","creationTimestamp":"2026-11-30T07:12:44Z","labels":{"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","kubernetes.io/hostname":"\#(name)","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"m6i.large","topology.kubernetes.io/region":"eu-west-1","topology.kubernetes.io/zone":"eu-west-1b"},"annotations":{"node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true"}},"spec":{"podCIDR":"10.244.3.0/24","podCIDRs":["10.244.3.0/24"],"providerID":"aws:///eu-west-1b/i-0a1b2c3d4e5f67890"},"status":{"capacity":{"cpu":"2","memory":"7931952Ki","pods":"110"},"allocatable":{"cpu":"1930m","memory":"7044656Ki","pods":"110"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-12-06T10:00:00Z","lastTransitionTime":"2026-11-30T07:13:20Z","reason":"KubeletReady","message":"kubelet is posting ready status"}],"addresses":[{"type":"InternalIP","address":"10.0.12.7"},{"type":"Hostname","address":"\#(name)"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"kubeletVersion":"v1.30.6","containerRuntimeVersion":"containerd://1.7.22","kernelVersion":"6.1.0-27-cloud-amd64","osImage":"Debian GNU/Linux 12 (bookworm)","architecture":"amd64","operatingSystem":"linux"}}}"#
    }

    /// A node of the node role's LIST and WATCH: `addresses` as `(type, address)` in the order the kubelet reports
    /// them, its kubelet on 10250.
    public static func node(
        name: String, resourceVersion: String, addresses: [(type: String, address: String)],
        labels: [String: String] = [:], annotations: [String: String] = [:]
    ) -> String {
        let addressList = addresses.map { #"{"type":"\#($0.type)","address":"\#($0.address)"}"# }.joined(separator: ",")
        return
            #"{"kind":"Node","apiVersion":"v1","metadata":{"name":"\#(name)","uid":"uid-\#(name)","resourceVersion":"\#(resourceVersion)","creationTimestamp":"2026-11-30T07:12:44Z","labels":\#(json(labels)),"annotations":\#(json(annotations))},"spec":{"podCIDR":"10.244.3.0/24","podCIDRs":["10.244.3.0/24"],"providerID":"aws:///eu-west-1b/i-0a1b2c3d4e5f67890"},"status":{"capacity":{"cpu":"2","memory":"7931952Ki","pods":"110"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-12-06T10:00:00Z","lastTransitionTime":"2026-11-30T07:13:20Z","reason":"KubeletReady","message":"kubelet is posting ready status"}],"addresses":[\#(addressList)],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"kubeletVersion":"v1.30.6","containerRuntimeVersion":"containerd://1.7.22","osImage":"Debian GNU/Linux 12 (bookworm)","architecture":"amd64","operatingSystem":"linux"}}}"#
    }

    /// A service; `ports` as `(name, port, targetPort)`. `type` `ExternalName` gets `externalName` and no cluster IP.
    public static func service(
        name: String, namespace: String = "shop", resourceVersion: String, type: String = "ClusterIP",
        clusterIP: String = "10.96.41.7", externalName: String? = nil,
        ports: [(name: String, port: Int, targetPort: Int)], labels: [String: String] = [:],
        annotations: [String: String] = [:]
    ) -> String {
        let portList = ports.map {
            #"{"name":"\#($0.name)","protocol":"TCP","port":\#($0.port),"targetPort":\#($0.targetPort)}"#
        }.joined(separator: ",")
        let addressing =
            type == "ExternalName"
            ? #""externalName":"\#(externalName ?? "")","sessionAffinity":"None""#
            : #""clusterIP":"\#(clusterIP)","clusterIPs":["\#(clusterIP)"],"sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster","selector":{"app.kubernetes.io/name":"\#(name)"}"#
        return
            #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"\#(namespace)","uid":"uid-svc-\#(name)","resourceVersion":"\#(resourceVersion)","creationTimestamp":"2026-12-01T08:00:00Z","labels":\#(json(labels)),"annotations":\#(json(annotations)),"managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"2026-12-01T08:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{}}}}]},"spec":{"ports":[\#(portList)],"type":"\#(type)",\#(addressing)},"status":{"loadBalancer":{}}}"#
    }

    /// An Endpoints object with one subset: `ready` and `notReady` addresses as `(ip, pod name, node)`, and `ports`
    /// as `(name, port)`.
    public static func endpoints(
        name: String, namespace: String = "shop", resourceVersion: String,
        ready: [(ip: String, pod: String, node: String)], notReady: [(ip: String, pod: String, node: String)] = [],
        ports: [(name: String, port: Int)], labels: [String: String] = [:]
    ) -> String {
        func addresses(_ list: [(ip: String, pod: String, node: String)]) -> String {
            list.map {
                #"{"ip":"\#($0.ip)","nodeName":"\#($0.node)","targetRef":{"kind":"Pod","namespace":"\#(namespace)","name":"\#($0.pod)","uid":"uid-\#($0.pod)"}}"#
            }.joined(separator: ",")
        }
        let portList = ports.map { #"{"name":"\#($0.name)","port":\#($0.port),"protocol":"TCP"}"# }
            .joined(separator: ",")
        let notReadyList = notReady.isEmpty ? "" : #","notReadyAddresses":[\#(addresses(notReady))]"#
        return
            #"{"kind":"Endpoints","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"\#(namespace)","uid":"uid-ep-\#(name)","resourceVersion":"\#(resourceVersion)","creationTimestamp":"2026-12-01T08:00:00Z","labels":\#(json(labels)),"annotations":{"endpoints.kubernetes.io/last-change-trigger-time":"2026-12-06T09:58:04Z"}},"subsets":[{"addresses":[\#(addresses(ready))]\#(notReadyList),"ports":[\#(portList)]}]}"#
    }

    /// A `<kind>List` answer to a LIST of any kind.
    public static func list(kind: String, resourceVersion: String, items: [String]) -> String {
        #"{"kind":"\#(kind)List","apiVersion":"v1","metadata":{"resourceVersion":"\#(resourceVersion)"},"items":[\#(items.joined(separator: ","))]}"#
    }

    /// A BOOKMARK event of any kind: an empty object with only its resourceVersion.
    public static func bookmark(kind: String, resourceVersion: String) -> String {
        #"{"type":"BOOKMARK","object":{"kind":"\#(kind)","apiVersion":"v1","metadata":{"resourceVersion":"\#(resourceVersion)","creationTimestamp":null}}}"#
    }

    private static func json(_ map: [String: String]) -> String {
        "{" + map.sorted { $0.key < $1.key }.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",") + "}"
    }
}
