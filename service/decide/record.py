"""After a decision: metrics and the decision log record, never a token or key."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from service.decide.outcome import Outcome
from service.engine.model import Action, Decision
from service.observability.decision_log import DecisionLog
from service.observability.metrics import Metrics
from service.observability.request_context import current_request_id

log = logging.getLogger("mcp_pdp.decisions")


class DecisionRecorder:
    """Counts every decision and queues its record; never blocks, never raises."""

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        decision_log: DecisionLog | None = None,
        log_arguments: Iterable[str] = (),
    ) -> None:
        self._metrics = metrics
        self._decision_log = decision_log
        self._log_arguments = frozenset(log_arguments)

    def record(self, outcome: Outcome, action: Action, seconds: float, caller: str | None) -> None:
        """Count the decision in metrics and queue its decision log record."""
        decision = outcome.decision
        metrics = self._metrics
        if metrics is not None:
            metrics.decided(decision.allowed, decision.code, action.method)
            metrics.decision_latency.observe(seconds)
            if decision.shadow is not None:
                changed = str(decision.shadow.allowed != decision.allowed).lower()
                metrics.shadow.labels(decision.shadow.verdict, changed).inc()
        if self._decision_log is not None:
            entry = log_entry(outcome, action, seconds, caller, self._log_arguments)
            self._decision_log.record(entry)

    def listed(self, summary: dict[str, Any]) -> None:
        """Log one tool filter's summary (its tools are not single decisions)."""
        log.info("tool filter", extra=summary)


def log_entry(
    outcome: Outcome,
    action: Action,
    seconds: float,
    caller: str | None,
    log_arguments: frozenset[str],
) -> dict[str, Any]:
    """The decision log record: never a token or key; argument values only when listed."""
    decision = outcome.decision
    token = outcome.principal.token if outcome.principal else None
    arguments = action.arguments or {}
    return {
        "decision_id": outcome.decision_id,
        "time": datetime.now(UTC).isoformat(),
        "principal_id": outcome.principal_id,
        "issuer": token.issuer if token else "",
        "client_id": token.client_id if token else "",
        "method": action.method,
        "tool": action.tool,
        "gateway": action.gateway,
        "decision": decision.verdict,
        "code": decision.code,
        "reasons": list(decision.reasons),
        "shadow": _shadow(decision),
        "policy_version": decision.policy_version,
        "cached": outcome.cached,
        "latency_us": int(seconds * 1e6),
        "caller": caller,
        "request_id": current_request_id.get(),
        "argument_names": sorted(arguments),
        "arguments": {k: v for k, v in arguments.items() if k in log_arguments},
    }


def _shadow(decision: Decision) -> dict[str, Any] | None:
    if decision.shadow is None:
        return None
    return {"decision": decision.shadow.verdict, "policies": list(decision.shadow.policies)}
