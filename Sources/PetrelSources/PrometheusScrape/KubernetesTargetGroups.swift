import PetrelCore

/// Prometheus' `kubernetes_sd_configs` roles as pure functions from the kept objects to target groups, with the
/// `__meta_kubernetes_*` labels and addresses Prometheus gives each role.
enum KubernetesTargetGroups {
    /// The pod role: a target per declared container port (a port-less one per container without ports), no
    /// targets for a pod without an IP.
    static func pod(_ pod: SDPod) -> TargetGroup {
        guard let ip = pod.status?.podIP, !ip.isEmpty else { return TargetGroup(targets: [], labels: [:]) }
        var labels = podLabels(pod)
        labels["__meta_kubernetes_namespace"] = pod.metadata.namespace ?? ""
        var targets: [[String: String]] = []
        let statuses = (pod.status?.containerStatuses ?? []) + (pod.status?.initContainerStatuses ?? [])
        let containers =
            (pod.spec?.containers ?? []).map { ($0, false) } + (pod.spec?.initContainers ?? []).map { ($0, true) }
        for (container, isInit) in containers {
            var own: [String: String] = [
                "__meta_kubernetes_pod_container_name": container.name,
                "__meta_kubernetes_pod_container_image": container.image ?? "",
                "__meta_kubernetes_pod_container_init": isInit ? "true" : "false",
                "__meta_kubernetes_pod_container_id": statuses.first { $0.name == container.name }?.containerID ?? "",
            ]
            guard let ports = container.ports, !ports.isEmpty else {
                own["__address__"] = ip
                targets.append(own)
                continue
            }
            for port in ports {
                var target = own
                target["__address__"] = hostPort(ip, port.containerPort)
                target["__meta_kubernetes_pod_container_port_name"] = port.name ?? ""
                target["__meta_kubernetes_pod_container_port_number"] = String(port.containerPort)
                target["__meta_kubernetes_pod_container_port_protocol"] = port.protocol ?? "TCP"
                targets.append(target)
            }
        }
        return TargetGroup(targets: targets, labels: labels)
    }

    /// The node role: one target, the kubelet at the node's first address by Prometheus' type preference,
    /// `instance` set to the node's name; none for a node without a known address.
    static func node(_ node: SDNode) -> TargetGroup {
        let name = node.metadata.name ?? ""
        var labels = objectLabels(node.metadata, prefix: "__meta_kubernetes_node_")
        labels["__meta_kubernetes_node_name"] = name
        var byType: [String: String] = [:]
        for address in node.status?.addresses ?? [] where byType[address.type] == nil {
            byType[address.type] = address.address
        }
        let preference = ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"]
        guard let address = preference.lazy.compactMap({ byType[$0] }).first else {
            return TargetGroup(targets: [], labels: labels)
        }
        var target = [
            "__address__": hostPort(address, node.status?.daemonEndpoints?.kubeletEndpoint?.port ?? 0),
            "instance": name,
        ]
        for (type, address) in byType {
            target[sanitize("__meta_kubernetes_node_address_" + type)] = address
        }
        return TargetGroup(targets: [target], labels: labels)
    }

    /// The service role: a target per service port at the service's DNS name, `<service>.<namespace>.svc:<port>`.
    static func service(_ service: SDService) -> TargetGroup {
        let labels = serviceLabels(service)
        let name = service.metadata.name ?? ""
        let namespace = service.metadata.namespace ?? ""
        let targets = (service.spec?.ports ?? []).map { port in
            var target = [
                "__address__": "\(name).\(namespace).svc:\(port.port)",
                "__meta_kubernetes_service_port_name": port.name ?? "",
                "__meta_kubernetes_service_port_number": String(port.port),
                "__meta_kubernetes_service_port_protocol": port.protocol ?? "TCP",
                "__meta_kubernetes_service_type": service.spec?.type ?? "",
            ]
            if service.spec?.type == "ExternalName" {
                target["__meta_kubernetes_service_external_name"] = service.spec?.externalName ?? ""
            } else {
                target["__meta_kubernetes_service_cluster_ip"] = service.spec?.clusterIP ?? ""
            }
            return target
        }
        return TargetGroup(targets: targets, labels: labels)
    }

    /// The endpoints role: a target per address and port (not-ready addresses too, `ready` false), with the
    /// service's labels when the service is known and the pod's when the address points to a known pod; then a target
    /// per container port of those pods that no endpoint port covers, as Prometheus adds.
    static func endpoints(
        _ endpoints: SDEndpoints, services: [String: SDService], pods: [String: SDPod]
    ) -> TargetGroup {
        let namespace = endpoints.metadata.namespace ?? ""
        var labels = objectLabels(endpoints.metadata, prefix: "__meta_kubernetes_endpoints_")
        if let service = services[endpoints.key] {
            labels.merge(serviceLabels(service)) { $1 }
        }
        labels["__meta_kubernetes_namespace"] = namespace
        labels["__meta_kubernetes_endpoints_name"] = endpoints.metadata.name ?? ""
        var targets: [[String: String]] = []
        // The pods seen behind an address, in order, and the ports their endpoints already gave a target.
        var seenPods: [(pod: SDPod, ports: Set<Int>)] = []
        func add(_ address: SDEndpoints.Address, _ port: SDEndpoints.Port, ready: Bool) {
            var target = [
                "__address__": hostPort(address.ip, port.port),
                "__meta_kubernetes_endpoint_port_name": port.name ?? "",
                "__meta_kubernetes_endpoint_port_protocol": port.protocol ?? "TCP",
                "__meta_kubernetes_endpoint_ready": ready ? "true" : "false",
            ]
            if let reference = address.targetRef {
                target["__meta_kubernetes_endpoint_address_target_kind"] = reference.kind ?? ""
                target["__meta_kubernetes_endpoint_address_target_name"] = reference.name ?? ""
            }
            if let node = address.nodeName { target["__meta_kubernetes_endpoint_node_name"] = node }
            if let hostname = address.hostname, !hostname.isEmpty {
                target["__meta_kubernetes_endpoint_hostname"] = hostname
            }
            guard let reference = address.targetRef, reference.kind == "Pod",
                let pod = pods["\(reference.namespace ?? namespace)/\(reference.name ?? "")"]
            else {
                targets.append(target)
                return
            }
            target.merge(podLabels(pod)) { $1 }
            for container in pod.spec?.containers ?? [] {
                guard let containerPort = container.ports?.first(where: { $0.containerPort == port.port }) else {
                    continue
                }
                target["__meta_kubernetes_pod_container_name"] = container.name
                target["__meta_kubernetes_pod_container_image"] = container.image ?? ""
                target["__meta_kubernetes_pod_container_port_name"] = containerPort.name ?? ""
                target["__meta_kubernetes_pod_container_port_number"] = String(port.port)
                target["__meta_kubernetes_pod_container_port_protocol"] = port.protocol ?? "TCP"
                break
            }
            if let index = seenPods.firstIndex(where: { $0.pod.key == pod.key }) {
                seenPods[index].ports.insert(port.port)
            } else {
                seenPods.append((pod, [port.port]))
            }
            targets.append(target)
        }
        for subset in endpoints.subsets ?? [] {
            for port in subset.ports ?? [] {
                for address in subset.addresses ?? [] { add(address, port, ready: true) }
                for address in subset.notReadyAddresses ?? [] { add(address, port, ready: false) }
            }
        }
        for (pod, ports) in seenPods {
            let ip = pod.status?.podIP ?? ""
            for container in pod.spec?.containers ?? [] {
                for port in container.ports ?? [] where !ports.contains(port.containerPort) {
                    var target = podLabels(pod)
                    target["__address__"] = hostPort(ip, port.containerPort)
                    target["__meta_kubernetes_pod_container_name"] = container.name
                    target["__meta_kubernetes_pod_container_image"] = container.image ?? ""
                    target["__meta_kubernetes_pod_container_port_name"] = port.name ?? ""
                    target["__meta_kubernetes_pod_container_port_number"] = String(port.containerPort)
                    target["__meta_kubernetes_pod_container_port_protocol"] = port.protocol ?? "TCP"
                    targets.append(target)
                }
            }
        }
        return TargetGroup(targets: targets, labels: labels)
    }

    /// Prometheus' `podLabels`: the pod's own labels, without the namespace or any container's.
    private static func podLabels(_ pod: SDPod) -> [String: String] {
        var labels = objectLabels(pod.metadata, prefix: "__meta_kubernetes_pod_")
        labels["__meta_kubernetes_pod_name"] = pod.metadata.name ?? ""
        labels["__meta_kubernetes_pod_ip"] = pod.status?.podIP ?? ""
        labels["__meta_kubernetes_pod_node_name"] = pod.spec?.nodeName ?? ""
        labels["__meta_kubernetes_pod_host_ip"] = pod.status?.hostIP ?? ""
        labels["__meta_kubernetes_pod_uid"] = pod.metadata.uid ?? ""
        labels["__meta_kubernetes_pod_phase"] = pod.status?.phase ?? ""
        labels["__meta_kubernetes_pod_ready"] = pod.isReady ? "true" : "false"
        if let controller = pod.metadata.ownerReferences?.first(where: { $0.controller == true }) {
            labels["__meta_kubernetes_pod_controller_kind"] = controller.kind
            labels["__meta_kubernetes_pod_controller_name"] = controller.name
        }
        return labels
    }

    /// Prometheus' `serviceLabels`: namespace, name, labels and annotations.
    private static func serviceLabels(_ service: SDService) -> [String: String] {
        var labels = objectLabels(service.metadata, prefix: "__meta_kubernetes_service_")
        labels["__meta_kubernetes_namespace"] = service.metadata.namespace ?? ""
        labels["__meta_kubernetes_service_name"] = service.metadata.name ?? ""
        return labels
    }

    /// `<prefix>label_<name>`, `<prefix>labelpresent_<name>`, `<prefix>annotation_<name>` and
    /// `<prefix>annotationpresent_<name>` for each label and annotation, names sanitised.
    private static func objectLabels(_ metadata: SDObjectMeta, prefix: String) -> [String: String] {
        var labels: [String: String] = [:]
        for (name, value) in metadata.labels ?? [:] {
            labels[prefix + "label_" + sanitize(name)] = value
            labels[prefix + "labelpresent_" + sanitize(name)] = "true"
        }
        for (name, value) in metadata.annotations ?? [:] {
            labels[prefix + "annotation_" + sanitize(name)] = value
            labels[prefix + "annotationpresent_" + sanitize(name)] = "true"
        }
        return labels
    }

    /// `host:port`, the host in brackets when it is an IPv6 address, as Go's `net.JoinHostPort`.
    private static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Prometheus' `strutil.SanitizeLabelName`: every byte that cannot be in a label name becomes `_`.
    static func sanitize(_ name: String) -> String {
        String(
            decoding: name.utf8.enumerated().map { index, byte in
                (index == 0 ? PrometheusLabelName.isStart(byte) : PrometheusLabelName.isContinuation(byte))
                    ? byte : UInt8(ascii: "_")
            }, as: UTF8.self)
    }
}
