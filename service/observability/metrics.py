"""Prometheus metrics, one registry per app (so tests and workers do not share state).

Label values come from fixed sets, never from what a caller sends: every value
is a time series kept for the life of the process, so a caller free to choose
them could grow `/metrics` without end. A value outside its set counts as
"other". The `issuer` of JWKS fetches is a configured issuer, and `version`
is only ever the active policy version.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.engine.errors import DENY_CODES
from service.engine.methods import METHOD_GROUPS, TOOL_CALL

OTHER = "other"
METHODS = frozenset(METHOD_GROUPS) | {TOOL_CALL}

# Decision latency buckets from 50 µs to 1 s: the interesting range for a PDP.
LATENCY_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)


class Metrics:
    """Every metric mcp-pdp exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "mcp_pdp_decisions", "Decisions made", ["decision", "code", "method"], registry=r
        )
        self.decision_latency = Histogram(
            "mcp_pdp_decision_latency_seconds",
            "Time to decide, from parsed request to answer",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.shadow = Counter(
            "mcp_pdp_shadow_effects",
            "Decisions a shadow policy would have decided",
            ["would_be", "changed"],
            registry=r,
        )
        self.cache = Counter(
            "mcp_pdp_cache_lookups", "Decision cache lookups", ["level", "result"], registry=r
        )
        self.policy_reloads = Counter(
            "mcp_pdp_policy_reloads", "Policy reload attempts", ["result"], registry=r
        )
        self.policy_version = Gauge(
            "mcp_pdp_policy_active", "1 for the active policy version", ["version"], registry=r
        )
        self.policy_error = Gauge(
            "mcp_pdp_policy_load_error", "1 while the last policy load failed", registry=r
        )
        self.jwks_fetches = Counter(
            "mcp_pdp_jwks_fetches", "JWKS fetches", ["issuer", "result"], registry=r
        )
        self.store_errors = Counter(
            "mcp_pdp_store_errors", "Errors reaching a store", ["store"], registry=r
        )
        self.log_dropped = Counter(
            "mcp_pdp_decision_log_dropped",
            "Decision log records lost: `sink` all (queue full), stdout, file or database; "
            "`reason` queue_full, unwritable (refused record) or unavailable (sink down)",
            ["sink", "reason"],
            registry=r,
        )
        self.log_written = Counter(
            "mcp_pdp_decision_log_written", "Decision log entries written", ["sink"], registry=r
        )

    def decided(self, allowed: bool, code: str | None, method: str) -> None:
        """Count one decision; an unknown method or code counts as "other"."""
        self.decisions.labels(
            "allow" if allowed else "deny",
            "" if code is None else bounded(code, DENY_CODES),
            bounded(method, METHODS),
        ).inc()

    def active_version(self, version: str) -> None:
        """Mark `version` as the only active policy version."""
        self.policy_version.clear()
        self.policy_version.labels(version=version).set(1)

    def jwks_fetched(self, issuer: str, ok: bool) -> None:
        """Count one JWKS fetch of `issuer`."""
        self.jwks_fetches.labels(issuer=issuer, result="success" if ok else "failure").inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def bounded(value: str, known: frozenset[str]) -> str:
    """`value` as a label value: itself when in `known`, else "other"."""
    return value if value in known else OTHER
