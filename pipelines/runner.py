"""Compile, run locally, and submit the pipelines (the CLI and the bot's launchers call these).

``run_local`` uses ``kfp.local.SubprocessRunner(use_venv=False)``: every task runs as a
subprocess of this interpreter, inheriting the environment (kfp-kubernetes Secret settings are
ignored locally). kfp.local keeps global state, so run one pipeline at a time per process.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_OUTPUT_DIR = Path("var/pipelines")
DEFAULT_LOCAL_ROOT = Path("var/kfp-local")
IMAGE_ENV = "APPROVAL_BOT_PIPELINES_IMAGE"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the directory that contains ``pipelines``


class UsageError(ValueError):
    """A pipeline name or parameter the caller got wrong."""


def pipeline(name: str) -> Any:
    """The pipeline function registered under ``name`` (data, training, staging, promotion)."""
    from pipelines.definitions import PIPELINES

    try:
        return PIPELINES[name]
    except KeyError:
        raise UsageError(
            f"unknown pipeline {name!r}; choose one of {', '.join(PIPELINES)}"
        ) from None


def names() -> list[str]:
    """Registered pipeline names, in flow order."""
    from pipelines.definitions import PIPELINES

    return list(PIPELINES)


_PARSERS: dict[str, Any] = {
    "String": str,
    "Integer": int,
    "Float": float,
    "Boolean": lambda text: {"true": True, "false": False}[text.strip().lower()],
}


def parse_params(name: str, pairs: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` → typed arguments for pipeline ``name``; unknown/missing keys fail."""
    inputs = pipeline(name).component_spec.inputs or {}
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {pair!r}")
        if key not in inputs:
            raise UsageError(
                f"pipeline {name!r} has no parameter {key!r}; it takes {', '.join(inputs)}"
            )
        parser = _PARSERS.get(inputs[key].type, str)
        try:
            params[key] = parser(text)
        except (ValueError, KeyError):
            raise UsageError(
                f"parameter {key!r} of {name!r} must be {inputs[key].type}, got {text!r}"
            ) from None
    missing = [k for k, spec in inputs.items() if not spec.optional and k not in params]
    if missing:
        raise UsageError(f"pipeline {name!r} needs --param for {', '.join(missing)}")
    return params


def compile_pipeline(name: str, path: Path, *, image: str | None = None) -> Path:
    """Write the pipeline's IR YAML to ``path``; ``image`` replaces every task's container image."""
    from kfp import compiler

    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline(name), str(path))
    if image:
        documents = list(yaml.safe_load_all(path.read_text()))
        for executor in documents[0]["deploymentSpec"]["executors"].values():
            executor["container"]["image"] = image
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def compile_all(output_dir: Path = DEFAULT_OUTPUT_DIR, *, image: str | None = None) -> list[Path]:
    """Compile every pipeline to ``output_dir/<name>.yaml``."""
    return [compile_pipeline(name, output_dir / f"{name}.yaml", image=image) for name in names()]


@contextlib.contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# The last line of a task's traceback when a step raised one of our errors on purpose.
_STEP_ERROR = re.compile(r"^\s*pipelines\.errors\.(\w+): (.+)$")


class _Tail(io.TextIOBase):
    """Passes writes on to ``stream`` and keeps the last lines (kfp.local prints task logs)."""

    def __init__(self, stream: Any, lines: int = 200) -> None:
        self.stream = stream
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._partial = ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        *complete, self._partial = (self._partial + text).split("\n")
        self.lines.extend(complete)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def step_error(self) -> str | None:
        """``Name: message`` of the last step error in the captured logs."""
        for line in reversed([*self.lines, self._partial]):
            if match := _STEP_ERROR.match(line):
                return f"{match.group(1)}: {match.group(2).strip()}"
        return None


def run_local(
    name: str,
    params: Mapping[str, Any],
    *,
    pipeline_root: Path = DEFAULT_LOCAL_ROOT,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run a pipeline with kfp.local and return its outputs; raise ``RuntimeError`` if a task fails.

    ``env`` is set for the duration of the run (tasks inherit it). This package's parent
    directory goes on ``PYTHONPATH`` so tasks can import ``pipelines`` wherever they start.
    kfp.local only says which task failed; the error the step raised (e.g. why a promotion was
    rolled back) is taken from the task's log and leads the message.
    """
    from kfp import local

    pythonpath = os.pathsep.join(
        p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    overrides = {"PYTHONPATH": pythonpath, **(env or {})}
    pipeline_root.mkdir(parents=True, exist_ok=True)
    tail = _Tail(sys.stdout)
    with _environment(overrides), warnings.catch_warnings(), contextlib.redirect_stdout(tail):
        # Our image name has no "python" in it; the subprocess runner warns about that.
        warnings.filterwarnings(
            "ignore", message=".*non-Python base image.*", category=RuntimeWarning
        )
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(pipeline_root),
            workspace_root=tempfile.mkdtemp(prefix="kfp-workspace-"),
            raise_on_error=True,
        )
        try:
            task = pipeline(name)(**dict(params))
        except RuntimeError as error:
            reason = tail.step_error()
            if reason is None:
                raise
            # The reason first: callers keep the start of long messages (the bot keeps 500).
            raise RuntimeError(f"{reason} ({error})") from error
    return dict(task.outputs)


@dataclass(frozen=True)
class Submitted:
    """What ``submit`` created on the KFP server."""

    run_id: str
    pipeline_id: str
    version_id: str
    experiment_id: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Uploaded:
    """A pipeline on the KFP server: its id and the version that holds this code and image."""

    name: str
    pipeline_id: str
    version_id: str
    version_name: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _client(host: str, namespace: str | None, token: str | None) -> Any:
    """``token``, else the projected ServiceAccount token at ``$KF_PIPELINES_SA_TOKEN_PATH``
    (pipelines.kfp_client); every call bounded by ``REQUEST_TIMEOUT_SECONDS``."""
    from pipelines import kfp_client

    return kfp_client.connect(
        host,
        namespace=namespace,
        token=token,
        token_path=None if token else kfp_client.token_path_from_env(),
        timeout_seconds=kfp_client.REQUEST_TIMEOUT_SECONDS,
    )


def upload(name: str, *, client: Any, image: str | None = None) -> Uploaded:
    """Upload pipeline ``name`` as a version named by its content hash (reused when present).

    The hash covers the compiled YAML, so another image (``image`` or
    ``APPROVAL_BOT_PIPELINES_IMAGE``) is another version.
    """
    kfp_name = pipeline(name).name
    with tempfile.TemporaryDirectory() as tmp:
        path = compile_pipeline(name, Path(tmp) / f"{name}.yaml", image=image)
        version_name = f"{kfp_name}-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
        pipeline_id = client.get_pipeline_id(kfp_name)
        if pipeline_id is None:
            pipeline_id = client.upload_pipeline(str(path), pipeline_name=kfp_name).pipeline_id
        version_id = _find_version(client, pipeline_id, version_name)
        if version_id is None:
            version_id = client.upload_pipeline_version(
                str(path), pipeline_version_name=version_name, pipeline_id=pipeline_id
            ).pipeline_version_id
    return Uploaded(
        name=kfp_name, pipeline_id=pipeline_id, version_id=version_id, version_name=version_name
    )


def upload_all(
    *,
    host: str,
    namespace: str | None = None,
    token: str | None = None,
    image: str | None = None,
    pipelines: list[str] | None = None,
) -> list[Uploaded]:
    """Upload every pipeline (or those named); what the bot's kfp launcher then starts."""
    client = _client(host, namespace, token)
    return [upload(name, client=client, image=image) for name in pipelines or names()]


def submit(
    name: str,
    params: Mapping[str, Any],
    *,
    host: str,
    experiment: str = "approval-bot",
    namespace: str | None = None,
    token: str | None = None,
    run_name: str | None = None,
    image: str | None = None,
) -> Submitted:
    """Upload the pipeline (a version named by its content hash, reused) and start a run."""
    client = _client(host, namespace, token)
    uploaded = upload(name, client=client, image=image)
    experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
    run = client.run_pipeline(
        experiment_id=experiment_id,
        job_name=run_name or f"{uploaded.name}-{uploaded.version_name[-12:]}",
        params=dict(params),
        pipeline_id=uploaded.pipeline_id,
        version_id=uploaded.version_id,
    )
    return Submitted(
        run_id=run.run_id,
        pipeline_id=uploaded.pipeline_id,
        version_id=uploaded.version_id,
        experiment_id=experiment_id,
    )


def _find_version(client: Any, pipeline_id: str, version_name: str) -> str | None:
    predicate = {"key": "display_name", "operation": "EQUALS", "stringValue": version_name}
    response = client.list_pipeline_versions(
        pipeline_id, filter=json.dumps({"predicates": [predicate]})
    )
    for version in response.pipeline_versions or []:
        if version.display_name == version_name:
            return str(version.pipeline_version_id)
    return None
