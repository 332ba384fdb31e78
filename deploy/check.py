"""`make deploy-check`: lint the image definition and scripts, render and validate the chart.

- hadolint on deploy/Dockerfile, shellcheck on the entrypoint scripts;
- yamllint on the compose file and the chart's own YAML;
- `helm lint` and `helm template` (Helm's Go SDK through helm-python-sdk) with the
  default, production and a lab set of values; every rendered object validated
  strictly against the Kubernetes schemas of the oldest and newest versions
  supported, plus the properties operators rely on (probes, non-root, hooks).

Needs the `deploy` extra (`make` runs `uv sync --extra dev --extra deploy`); prints
`N passed, M failed`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "mcp-pdp"
BIN = Path(sys.executable).parent
KUBE_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
LAB_VALUES: dict[str, Any] = {
    "secrets": {
        "create": True,
        "databaseUrl": "postgresql+psycopg://pdp:pw@postgres:5432/pdp",
        "redisUrl": "redis://redis:6379/0",
        "bootstrapAdminKey": "lab-admin-key-0123456789abcdefghijkl",
    },
    "policies": {
        "source": "inline",
        "files": {"tools.cedar": "permit (principal, action, resource);\n"},
    },
    "podDisruptionBudget": {"maxUnavailable": 1},
    "autoscaling": {"enabled": False},
}
results: list[tuple[str, str | None]] = []


def check(name: str, run: Callable[[], str | None]) -> None:
    """Record one check: `run` returns None (pass) or what is wrong."""
    try:
        problem = run()
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    results.append((name, problem))
    print(
        f"{'ok  ' if problem is None else 'FAIL'} {name}" + (f"\n     {problem}" if problem else "")
    )


def tool(*command: str) -> Callable[[], str | None]:
    """A check that runs a linter; its output is the problem when it exits non-zero."""

    def run() -> str | None:
        done = subprocess.run(  # noqa: S603 - our own fixed linter commands
            command, capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        return None if done.returncode == 0 else (done.stdout + done.stderr).strip()

    return run


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """`helm template` the chart; the Kubernetes objects it renders."""
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name="pdp", namespace="mcp", is_install=True)
    objects = []
    for name, text in files.items():
        if name.endswith(".yaml"):
            objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def validated(objects: list[dict[str, Any]]) -> str | None:
    for version in KUBE_VERSIONS:
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                return f"{obj['kind']} {obj['metadata']['name']} on {version}: {exc.message}"
    return None


def operator_contract(objects: list[dict[str, Any]], expect: set[str]) -> str | None:
    kinds = by_kind(objects)
    if set(kinds) != expect:
        return f"kinds {sorted(kinds)} != {sorted(expect)}"
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    hook = kinds["Job"]["metadata"]["annotations"]["helm.sh/hook"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    facts = {
        "readiness on /readyz": container["readinessProbe"]["httpGet"]["path"] == "/readyz",
        "liveness on /healthz": container["livenessProbe"]["httpGet"]["path"] == "/healthz",
        "resources set": bool(container["resources"].get("requests")),
        "non-root": pod["securityContext"]["runAsNonRoot"] is True,
        "read-only root": container["securityContext"]["readOnlyRootFilesystem"] is True,
        "migration hook": hook == "pre-install,pre-upgrade",
        "pods do not migrate": env.get("MCP_PDP_MIGRATE_ON_START") == "false",
        "caller keys required": env.get("MCP_PDP_REQUIRE_CALLER_KEY") == "true",
        "no :latest image": not container["image"].endswith(":latest"),
    }
    broken = [name for name, holds in facts.items() if not holds]
    return f"does not hold: {broken}" if broken else None


def main() -> int:
    """Run every check; exit 1 when any failed."""
    check("hadolint deploy/Dockerfile", tool(str(BIN / "hadolint"), "deploy/Dockerfile"))
    scripts = [str(p.relative_to(ROOT)) for p in sorted(DEPLOY.glob("*.sh"))]
    check("shellcheck deploy/*.sh", tool(str(BIN / "shellcheck"), *scripts))
    yaml_files = ["deploy/compose.yaml", *(str(p.relative_to(ROOT)) for p in CHART.glob("*.yaml"))]
    check(
        "yamllint compose and chart values",
        tool(str(BIN / "yamllint"), "-c", "deploy/.yamllint.yaml", "-s", *yaml_files),
    )

    def lint() -> str | None:
        report = helm.lint(str(CHART), strict=True)
        return str(report["errors"]) if report["errors"] else None

    check("helm lint", lint)
    production = yaml.safe_load((CHART / "values-production.yaml").read_text())
    base = {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "Job"}
    for label, values, kinds in (
        ("default values", {}, base),
        ("production values", production, base | {"HorizontalPodAutoscaler"}),
        ("lab values", LAB_VALUES, base | {"Secret", "ConfigMap"}),
    ):
        objects: list[dict[str, Any]] = []

        def rendered(values: dict[str, Any] = values, out: list[Any] = objects) -> str | None:
            out[:] = render(values)
            return None if out else "nothing rendered"

        check(f"helm template, {label}", rendered)
        check(
            f"{label}: objects valid for Kubernetes {', '.join(KUBE_VERSIONS)}",
            lambda objects=objects: validated(objects),
        )
        check(
            f"{label}: probes, non-root, hooks", lambda o=objects, k=kinds: operator_contract(o, k)
        )
    check("helm template refuses policies.source=inline without files", refuses_bad_values)
    failed = sum(1 for _, problem in results if problem)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def refuses_bad_values() -> str | None:
    try:
        render({"policies": {"source": "inline"}})
    except helm.HelmError:
        return None
    return "rendered anyway"


if __name__ == "__main__":
    sys.exit(main())
