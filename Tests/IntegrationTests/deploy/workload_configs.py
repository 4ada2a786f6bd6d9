"""Reads rendered Kubernetes manifests (stdin) and prints, as JSON, each Petrel container's configuration as the
pod would see it: the text of the file its `--config` names (from the ConfigMap volume mounted there), the
environment the manifest and the kubelet give it, and the paths of its other volume mounts (the service
account's among them, when Kubernetes mounts it).

The environment is resolved as the kubelet would: literal values, ConfigMap keys, the container's resource
limits with their divisor (`resourceFieldRef`), and the downward API's fields, for which a pod on node `node-1`
is assumed. Run with the PyYAML of .venv-deploy (checkov depends on it).
"""

import json
import math
import re
import sys

import yaml

# Kubernetes quantity suffixes (binary and decimal), as resourceFieldRef limits and divisors are written.
SUFFIXES = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "m": 10**-3, "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
# The downward API's fields of a pod on node `node-1` (metadata.namespace and spec.serviceAccountName come from
# the object itself).
DOWNWARD_FIELDS = {
    "spec.nodeName": "node-1",
    "metadata.name": "petrel-0",
    "status.podIP": "10.0.0.10",
    "status.hostIP": "10.0.0.1",
}

SERVICE_ACCOUNT_DIRECTORY = "/var/run/secrets/kubernetes.io/serviceaccount"
# The variables the kubelet sets in every pod for the `kubernetes` Service (its ClusterIP in a default cluster).
KUBELET_ENVIRONMENT = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def service_account_mounts_token(objects, name, namespace):
    for o in objects:
        if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == name \
                and o["metadata"].get("namespace", namespace) == namespace:
            return o.get("automountServiceAccountToken", True)
    return True


def quantity(text):
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    if not match or match.group(2) not in SUFFIXES:
        raise ValueError(f"cannot read the quantity {text!r}")
    return float(match.group(1)) * SUFFIXES[match.group(2)]


def resolve_env(container, pod_spec, namespace, config_maps):
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        else:
            raise ValueError(f"unhandled envFrom {source}")
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            env[name] = variable["value"]
            continue
        source = variable["valueFrom"]
        if "configMapKeyRef" in source:
            reference = source["configMapKeyRef"]
            env[name] = config_maps[reference["name"]][reference["key"]]
        elif "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            if path == "metadata.namespace":
                env[name] = namespace
            elif path == "spec.serviceAccountName":
                env[name] = pod_spec.get("serviceAccountName", "default")
            else:
                env[name] = DOWNWARD_FIELDS[path]
        elif "resourceFieldRef" in source:
            reference = source["resourceFieldRef"]
            target = next(
                c for c in pod_spec["containers"] if c["name"] == reference.get("containerName", container["name"])
            )
            kind, resource = reference["resource"].split(".", 1)
            value = quantity(target["resources"][kind][resource])
            # The kubelet rounds up to a whole number of divisors.
            env[name] = str(math.ceil(value / quantity(reference.get("divisor", "1"))))
        else:
            raise ValueError(f"unhandled valueFrom {source}")
    return env


def main():
    objects = [o for o in yaml.safe_load_all(sys.stdin) if o]
    config_maps = {
        o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"
    }
    workloads = []
    for workload in objects:
        if workload["kind"] not in ("DaemonSet", "StatefulSet", "Deployment"):
            continue
        pod_spec = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        namespace = workload["metadata"].get("namespace", "default")
        for container in pod_spec["containers"]:
            arguments = container.get("args", [])
            config_path = arguments[arguments.index("--config") + 1]
            config_text = None
            other_mounts = []
            for mount in container.get("volumeMounts", []):
                volume = volumes.get(mount["name"], {})
                prefix = mount["mountPath"].rstrip("/") + "/"
                if config_path.startswith(prefix) and "configMap" in volume:
                    data = config_maps[volume["configMap"]["name"]]
                    config_text = data[config_path[len(prefix):]]
                else:
                    kind = "secret" if "secret" in volume else "directory"
                    other_mounts.append({"path": mount["mountPath"], "kind": kind})
            # What Kubernetes adds to every pod: the service account's token and CA (unless the pod or its
            # account opts out) and the API server's address.
            if pod_spec.get("automountServiceAccountToken", True) and service_account_mounts_token(
                objects, pod_spec.get("serviceAccountName", "default"), namespace
            ):
                other_mounts.append({"path": SERVICE_ACCOUNT_DIRECTORY, "kind": "serviceaccount"})
            if config_text is None:
                raise ValueError(f"{workload['metadata']['name']}: no ConfigMap mounted at {config_path}")
            workloads.append({
                "workload": f"{workload['kind']}/{workload['metadata']['name']}",
                "config_path": config_path,
                "config": config_text,
                "environment": {**KUBELET_ENVIRONMENT, **resolve_env(container, pod_spec, namespace, config_maps)},
                "mounts": other_mounts,
            })
    json.dump(workloads, sys.stdout)


main()
