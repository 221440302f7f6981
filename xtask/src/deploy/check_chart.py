"""Renders and checks the Helm chart under deploy/helm/splunk-mcp; run by `cargo xtask test`
(xtask/src/deploy.rs) with the Python of the tool environment it keeps in target/deploy-tools.

For the default values and for every values file under the chart's ci/ folder:
  1. `helm lint --strict` (Helm's own Go code, through the helm-python-sdk's libhelm_c);
  2. render the templates as `helm template` does and write them to the output folder;
  3. validate every manifest against the Kubernetes JSON schemas (kubernetes-validate, strict:
     unknown fields fail) for each Kubernetes version given; the ServiceMonitor, a custom
     resource, against the schema of the fields the chart uses (below);
  4. check what ties the manifests together (selectors, names, ports, mounted ConfigMap and
     Secret) and what the deployment promises (probes, non-root, read-only root, no
     capabilities);
  5. with a splunk-mcp binary given, run `splunk-mcp config check` on the rendered settings file
     with the container's environment (secret files replaced by stand-ins), for every ci file.
Then render the values that must be refused, and check that each fails with its message.

Prints one line per step; exits 1 with the reasons on the first failing values set.
"""

import argparse
import base64
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

RELEASE = "splunk-mcp"
NAMESPACE = "splunk-mcp"
SECRET_DIR = "/run/secrets/splunk-mcp"
CONFIG_FILE = "/etc/splunk-mcp/config.toml"

# The Prometheus Operator's ServiceMonitor, as far as the chart writes it (the CRD itself is not
# bundled by any package here). Durations follow the CRD's own pattern.
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                        },
                    },
                },
            },
        },
    },
}

# Values that must be refused, each with a piece of its message: (name, base values file or
# None for the defaults, changes, expected text).
MUST_FAIL = [
    (
        "several replicas in proxy mode without Redis",
        "ci/proxy-ha-values.yaml",
        {"redis": {"existingSecret": ""}},
        "without Redis",
    ),
    (
        "several replicas with MCP sessions",
        "ci/proxy-ha-values.yaml",
        {"config": {"server": {"stateless": False}}},
        "config.server.stateless: true",
    ),
    (
        "a Redis URL with a password in the values",
        "ci/proxy-ha-values.yaml",
        {"redis": {"existingSecret": "", "url": "redis://:hunter2@redis:6379/0"}},
        "redis.url carries credentials",
    ),
    (
        "persistence with several replicas",
        "ci/proxy-ha-values.yaml",
        {"persistence": {"enabled": True}},
        "persistence is for the embedded store of a single replica",
    ),
    (
        "a service account without its token",
        None,
        {"config": {"splunk": {"credentials": "service"}}},
        "needs secrets.splunkToken",
    ),
    (
        "a secret in the settings file",
        "ci/proxy-ha-values.yaml",
        {"config": {"auth": {"client_secret": "hunter2"}}},
        "config.auth.client_secret would put a secret in the ConfigMap",
    ),
    (
        "the listen address in the settings",
        None,
        {"config": {"server": {"bind": "0.0.0.0:9000"}}},
        "config.server.bind is set by the chart",
    ),
]


class Failed(Exception):
    """A check failed; the message says which and why."""


def merge(base, changes):
    """Values `changes` laid over `base`, as `helm -f base -f changes` would."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(chart_dir, name):
    if name is None:
        return {}
    path = chart_dir / name
    with open(path, encoding="utf-8") as handle:
        values = yaml.safe_load(handle) or {}
    if not isinstance(values, dict):
        raise Failed(f"{path}: not a mapping of values")
    return values


def lint(chart_dir, label, values, kube_versions):
    for version in kube_versions:
        report = helm.lint(str(chart_dir), values, strict=True, namespace=NAMESPACE,
                           kube_version=f"v{version}")
        problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        problems += [{"path": "", "error": e} for e in report.get("errors", [])]
        if problems:
            lines = "\n".join(f"  {p.get('path', '')}: {p.get('error')}" for p in problems)
            raise Failed(f"helm lint --strict ({label}, Kubernetes {version}):\n{lines}")


def render(chart, values):
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def manifests(rendered, out_dir):
    """The rendered objects, each with the template it came from; writes them to out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            (out_dir / "NOTES.txt").write_text(text, encoding="utf-8")
            continue
        if not text.strip():
            continue
        (out_dir / Path(template).name).write_text(text, encoding="utf-8")
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            raise Failed(f"{template} does not render to YAML: {error}") from None
        for document in documents:
            if document is None:
                continue
            if not isinstance(document, dict) or "kind" not in document:
                raise Failed(f"{template} renders something that is not a Kubernetes object")
            objects.append((template, document))
    return objects


def validate_schemas(objects, kube_versions):
    for template, obj in objects:
        kind = obj["kind"]
        if kind == "ServiceMonitor":
            try:
                jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
            except jsonschema.ValidationError as error:
                where = "/".join(str(p) for p in error.absolute_path)
                raise Failed(f"{template}: ServiceMonitor at {where or '(top)'}: {error.message}") from None
            continue
        for version in kube_versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = "/".join(str(p) for p in error.path)
                raise Failed(
                    f"{template}: {kind} does not match the Kubernetes {version} schema at "
                    f"{where or '(top)'}: {error.message}"
                ) from None
            except kubernetes_validate.SchemaNotFoundError:
                raise Failed(f"{template}: no Kubernetes {version} schema for {obj['apiVersion']} {kind}") from None


def by_kind(objects, kind):
    return [obj for _, obj in objects if obj["kind"] == kind]


def one(objects, kind):
    found = by_kind(objects, kind)
    if len(found) != 1:
        raise Failed(f"expected one {kind}, the chart rendered {len(found)}")
    return found[0]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_wiring(objects, values):
    deployment = one(objects, "Deployment")
    service = one(objects, "Service")
    configmap = one(objects, "ConfigMap")
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    if not selects(deployment["spec"]["selector"]["matchLabels"], pod_labels):
        raise Failed("the Deployment's selector does not match its own pods")
    if not selects(service["spec"]["selector"], pod_labels):
        raise Failed("the Service does not select the Deployment's pods")
    for pdb in by_kind(objects, "PodDisruptionBudget"):
        if not selects(pdb["spec"]["selector"]["matchLabels"], pod_labels):
            raise Failed("the PodDisruptionBudget does not select the Deployment's pods")
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    for monitor in by_kind(objects, "ServiceMonitor"):
        if not selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"].get("labels", {})):
            raise Failed("the ServiceMonitor does not select the Service")
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint.get("port") not in service_ports or endpoint.get("path") != "/metrics":
                raise Failed("the ServiceMonitor does not scrape /metrics on a port of the Service")
    for ingress in by_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                if backend["name"] != service["metadata"]["name"] or backend["port"].get("name") not in service_ports:
                    raise Failed("the Ingress does not send traffic to the Service's port")

    containers = spec["containers"]
    if len(containers) != 1:
        raise Failed("expected one container in the pod")
    container = containers[0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    for port in service_ports.values():
        if port["targetPort"] not in ports:
            raise Failed(f"the Service targets port {port['targetPort']}, which the container does not name")
    env = {e["name"]: e for e in container.get("env", [])}
    bind = env.get("MCP_BIND", {}).get("value", "")
    if not bind.endswith(f":{ports.get('http')}"):
        raise Failed(f"MCP_BIND {bind!r} does not listen on the container's http port")
    probes = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in probes.items():
        got = container.get(probe, {}).get("httpGet", {})
        if got.get("path") != path or got.get("port") not in ("http", ports.get("http")):
            raise Failed(f"the container's {probe} is not GET {path} on the http port")
    security = container.get("securityContext", {})
    pod_security = spec.get("securityContext", {})
    wanted = [
        (security.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true"),
        (security.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false"),
        ("ALL" in security.get("capabilities", {}).get("drop", []), "capabilities.drop: [ALL]"),
        (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot"), "runAsNonRoot: true"),
    ]
    for ok, what in wanted:
        if not ok:
            raise Failed(f"the container's security context lacks {what}")
    if not container.get("resources", {}).get("requests"):
        raise Failed("the container has no resource requests")

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    config_mount = mounts.get(str(Path(CONFIG_FILE).parent))
    if not config_mount or volumes[config_mount["name"]].get("configMap", {}).get("name") != configmap["metadata"]["name"]:
        raise Failed("the settings ConfigMap is not mounted at /etc/splunk-mcp")
    if env.get("MCP_CONFIG_FILE", {}).get("value") != CONFIG_FILE:
        raise Failed(f"MCP_CONFIG_FILE is not {CONFIG_FILE}")
    if "config.toml" not in configmap.get("data", {}):
        raise Failed("the ConfigMap has no config.toml")
    if "/var/lib/splunk-mcp" not in mounts:
        raise Failed("nothing is mounted at /var/lib/splunk-mcp, the store's directory")
    secret_files = {n: e["value"] for n, e in env.items() if n.endswith("_FILE") and n != "MCP_CONFIG_FILE"}
    if secret_files:
        secret_mount = mounts.get(SECRET_DIR)
        if not secret_mount:
            raise Failed(f"secret files are named but nothing is mounted at {SECRET_DIR}")
        secret_volume = volumes[secret_mount["name"]]["secret"]
        items = {i["path"] for i in secret_volume.get("items", [])}
        for name, path in secret_files.items():
            if str(Path(path).parent) != SECRET_DIR or Path(path).name not in items:
                raise Failed(f"{name}={path} is not a file of the mounted Secret")
        existing = (values.get("secrets") or {}).get("existingSecret")
        rendered = {s["metadata"]["name"]: s for s in by_kind(objects, "Secret")}
        name = secret_volume["secretName"]
        if existing:
            if name != existing:
                raise Failed(f"the pod mounts Secret {name}, not secrets.existingSecret {existing}")
        elif name not in rendered:
            raise Failed(f"the pod mounts Secret {name}, which the chart does not create")
        else:
            data = rendered[name].get("data", {})
            for item in secret_volume.get("items", []):
                if item["key"] not in data:
                    raise Failed(f"the created Secret {name} has no key {item['key']}")
    for volume in volumes.values():
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim and claim not in {c["metadata"]["name"] for c in by_kind(objects, "PersistentVolumeClaim")} \
                and claim != (values.get("persistence") or {}).get("existingClaim"):
            raise Failed(f"the pod mounts PersistentVolumeClaim {claim}, which does not exist")
    return container, configmap


def config_check(binary, container, configmap, label):
    """`splunk-mcp config check` on the rendered settings, with the container's environment."""
    with tempfile.TemporaryDirectory(prefix="splunk-mcp-chart-") as scratch:
        scratch = Path(scratch)
        config = scratch / "config.toml"
        config.write_text(configmap["data"]["config.toml"], encoding="utf-8")
        secrets = scratch / "secrets"
        secrets.mkdir()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for entry in container.get("env", []):
            name = entry["name"]
            if "value" in entry:
                value = entry["value"]
            elif name == "MCP_PROXY_STORE":
                value = "redis://:stand-in@redis.invalid:6379/0"
            else:
                value = "stand-in"
            if name == "MCP_CONFIG_FILE":
                value = str(config)
            elif value.startswith(SECRET_DIR + "/"):
                stand_in = secrets / Path(value).name
                if name == "MCP_PROXY_ENCRYPTION_KEY_FILE":
                    stand_in.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
                else:
                    stand_in.write_text("stand-in-secret\n")
                value = str(stand_in)
            env[name] = value
        result = subprocess.run([binary, "config", "check"], env=env, capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            raise Failed("splunk-mcp config check refuses the rendered settings (the ConfigMap's config.toml):\n"
                         f"{result.stderr.strip() or result.stdout.strip()}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chart", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--kube-version", action="append", required=True)
    parser.add_argument("--binary", help="a splunk-mcp binary for `config check`")
    args = parser.parse_args()

    chart_dir = args.chart
    print(f"helm SDK {helm.helm_sdk_version()} (helm-c {helm.helm_c_version()}), "
          f"kubernetes-validate schemas for {', '.join(args.kube_version)}", flush=True)
    sets = [("default values", None)]
    sets += [(f"ci/{p.name}", f"ci/{p.name}") for p in sorted((chart_dir / "ci").glob("*.yaml"))]
    if len(sets) < 2:
        raise Failed(f"{chart_dir}/ci has no values files")
    with helm.Chart.load(str(chart_dir)) as chart:
        oldest = min(args.kube_version, key=lambda v: tuple(int(p) for p in v.split(".")))
        declared = chart.metadata.get("kubeVersion")
        if declared != f">={oldest}-0":
            raise Failed(f"{chart_dir}/Chart.yaml: kubeVersion is {declared!r}, but the manifests "
                         f"are validated from Kubernetes {oldest} on (\">={oldest}-0\")")
        for label, name in sets:
            try:
                values = load_values(chart_dir, name)
                lint(chart_dir, label, values, args.kube_version)
                try:
                    rendered = render(chart, values)
                except helm.HelmError as error:
                    raise Failed(f"rendering failed: {error}") from None
                out = args.out / (Path(name).stem if name else "default")
                objects = manifests(rendered, out)
                validate_schemas(objects, args.kube_version)
                container, configmap = check_wiring(objects, values)
                checked = "not run (no binary)"
                if args.binary and name is not None:
                    config_check(args.binary, container, configmap, label)
                    checked = "accepted"
                elif name is None:
                    checked = "not run (the defaults leave the IdP's URL to you)"
                kinds = ", ".join(sorted({obj["kind"] for _, obj in objects}))
                print(f"  {label}: lint clean; {len(objects)} manifests valid ({kinds}); "
                      f"config check {checked}; written to {out}", flush=True)
            except Failed as failure:
                raise Failed(f"{chart_dir} with {label}: {failure}") from None

        for description, base, changes, expected in MUST_FAIL:
            values = merge(load_values(chart_dir, base), changes)
            try:
                render(chart, values)
            except helm.HelmError as error:
                if expected not in str(error):
                    raise Failed(f"{chart_dir}/templates: {description} is refused, but not with "
                                 f"{expected!r}: {error}") from None
                continue
            raise Failed(f"{chart_dir}/templates: {description} renders, but must be refused "
                         f"({expected!r})")
        print(f"  {len(MUST_FAIL)} invalid value sets refused with their messages", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Failed as failure:
        print(f"chart check failed: {failure}", file=sys.stderr)
        sys.exit(1)
