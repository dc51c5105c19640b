"""Walking a canary's steps (pipelines/steps/canary.py says what each step is)."""

from __future__ import annotations

import logging
import time
from typing import Any

from pipelines.errors import CanaryFailedError, CanaryRollbackRequestedError
from pipelines.steps import rollout, serving
from pipelines.steps.analysis import Prometheus, Result, analyze
from pipelines.steps.canary import (
    Plan,
    Target,
    previous_revision,
    set_percent,
    shares,
    split_judge,
    wait,
)
from pipelines.steps.control import Control

log = logging.getLogger(__name__)

CONTROL_POLL_SECONDS = 2.0  # how often a dwell asks the bot for a signal


class Stepper:
    def __init__(
        self,
        target: Target,
        uri: str,
        plan: Plan,
        before: dict[str, Any],
        control: Control,
        timeout_seconds: float,
        poll_seconds: float,
    ) -> None:
        self.target, self.uri, self.plan, self.before = target, uri, plan, before
        self.control, self.timeout, self.poll = control, timeout_seconds, poll_seconds
        self.baseline = serving.Baseline.of(before)
        self.previous = previous_revision(before)
        self.prometheus = Prometheus(plan.prometheus_url)
        self.canary = ""
        self.control_poll = CONTROL_POLL_SECONDS

    def walk(self) -> None:
        """First step's split, then dwell → analysis → next step; the last removes the
        canary percent. Raises CanaryFailedError / CanaryRollbackRequestedError to roll back."""
        steps = self.plan.steps
        self._wait_split(steps[0])
        for index, step in enumerate(steps[:-1]):
            self._report("dwelling", step)
            if self._dwell(step) == "promote_now":
                break
            result = self._analyze()
            self._report("analysed", step, result)
            if not result.passed:
                raise CanaryFailedError(f"canary analysis failed at {step}%: {result.summary()}")
            following = steps[index + 1]
            self._heed_rollback(following)  # between steps too
            if following < 100:
                set_percent(self.target, uri=self.uri, percent=following)
                self._wait_split(following)
        set_percent(self.target, uri=self.uri, percent=None)
        self._report("rolling out", 100)
        rollout.wait_until_ready(
            self.target.name,
            self.target.namespace,
            uri=self.uri,
            before=self.before,
            before_deployment=None,
            timeout_seconds=self.timeout,
            poll_seconds=self._wait_poll(),
            check=lambda: self._heed_rollback(100),
        )
        self._report("promoted", 100)

    def _wait_poll(self) -> float:
        """While KServe gets a step ready, the cluster and the control are asked this often:
        a Roll back click is seen within a control poll whatever the canary is doing."""
        return min(self.poll, self.control_poll)

    def _heed_rollback(self, step: int) -> None:
        """Outside a dwell only a rollback acts at once (KServe is already moving the
        traffic: there is nothing to pause); pause and promote now wait for the dwell,
        which reads the same signal first thing."""
        signal = self.control.signal()
        if signal.action == "rollback":
            raise CanaryRollbackRequestedError(
                f"rolled back from chat by {signal.by or 'an approver'} while moving to {step}%"
            )

    def _wait_split(self, percent: int) -> None:
        self._report("rolling out", percent)  # shown, and controllable, while not Ready yet
        service = wait(
            self.target,
            split_judge(self.baseline, percent),
            uri=self.uri,
            timeout_seconds=self.timeout,
            poll_seconds=self._wait_poll(),
            check=lambda: self._heed_rollback(percent),
        )
        predictor = (service.get("status") or {}).get("components", {}).get("predictor", {})
        self.canary = str(predictor.get("latestCreatedRevision"))
        log.info("canary %s has %d%% of the traffic of %s", self.canary, percent, self.target)

    def _analyze(self) -> Result:
        return analyze(
            self.prometheus,
            self.plan.checks,
            namespace=self.target.namespace,
            canary=self.canary,
            previous=self.previous,
            window_seconds=self.plan.dwell_seconds,
        )

    def _dwell(self, step: int) -> str:
        """Wait the dwell time, not counting paused time; "done" or "promote_now"."""
        remaining, last, paused = self.plan.dwell_seconds, time.monotonic(), False
        while True:
            signal = self.control.signal()
            if signal.action == "rollback":
                raise CanaryRollbackRequestedError(
                    f"rolled back from chat by {signal.by or 'an approver'} at {step}%"
                )
            if signal.action == "promote_now":
                self._report("promoting now", step, by=signal.by)
                return "promote_now"
            now = time.monotonic()
            if not paused:
                remaining -= now - last
            last = now
            if paused != (signal.action == "pause"):
                paused = not paused
                self._report("paused" if paused else "dwelling", step, by=signal.by)
            if remaining <= 0 and not paused:
                return "done"
            time.sleep(self.control_poll if paused else min(self.control_poll, remaining))

    def _report(self, phase: str, step: int, result: Result | None = None, by: str = "") -> None:
        progress: dict[str, Any] = {
            "phase": phase,
            "step": step,
            "steps": list(self.plan.steps),
            "canary_revision": self.canary,
            "previous_revision": self.previous,
            "traffic": {name: pct for name, pct in self._traffic().items() if pct},
        }
        if result is not None:
            progress["analysis"] = result.as_json()
            progress["passed"] = result.passed
        if by:
            progress["by"] = by
        self.control.report(progress)

    def _traffic(self) -> dict[str, int]:
        from pipelines.steps import kube

        try:
            return shares(kube.get_inference_service(self.target.name, self.target.namespace))
        except Exception:  # progress is for people: never fail the rollout over it
            log.exception("reading the traffic split of %s failed", self.target)
            return {}
