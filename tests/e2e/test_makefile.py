"""The Makefile's answers to a newcomer's first mistakes: a taken port, `make clean` before a
second try, a docker client without its daemon. Real `make`, on temporary data (and, where a
target deletes things, on a temporary copy of the Makefile)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "make"


def make(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [MAKE, "--no-print-directory", *args],
        cwd=cwd,
        env=env if env is not None else {**os.environ, "MLFLOW_TRACKING_URI": ""},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something (not an approval-bot, not MLflow) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


# -- make run: its ports, checked before anything starts ---------------------------------


def test_make_run_on_a_taken_port_says_so_in_one_line_and_starts_nothing(tmp_path, taken):
    var = tmp_path / "var"
    done = make("run", f"VAR={var}", f"PORT={taken}", f"MLFLOW_PORT={free_port()}")
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert f"port {taken} (PORT) on 127.0.0.1 is taken by another program" in line
    assert "choose another with `make run PORT=" in line
    assert done.stdout == ""
    assert not var.exists(), "nothing was started or created"


def test_make_run_names_a_taken_mlflow_port_and_how_to_choose_another(tmp_path, taken):
    done = make("run", f"VAR={tmp_path / 'var'}", f"PORT={free_port()}", f"MLFLOW_PORT={taken}")
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert f"port {taken} (MLFLOW_PORT) is taken by a program that is not an MLflow server" in line
    assert "`make run MLFLOW_PORT=" in line


def test_a_port_held_by_what_make_run_started_points_to_make_stop(tmp_path, taken):
    var = tmp_path / "var"
    var.mkdir()
    (var / "bot.pid").write_text(f"{os.getpid()}\n")  # a process that runs
    done = make("run", f"VAR={var}", f"PORT={taken}", f"MLFLOW_PORT={free_port()}")
    line = one_line(done.stderr)
    assert f"taken by the approval-bot `make run` started (pid {os.getpid()})" in line
    assert "`make stop`" in line


def test_an_mlflow_tracking_uri_set_elsewhere_skips_the_mlflow_port(tmp_path, taken):
    """Only the bot's port counts then; -n: nothing runs, but the check (at parse) does."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}
    done = make(
        "-n", "run", f"VAR={tmp_path}", f"PORT={free_port()}", f"MLFLOW_PORT={taken}", env=env
    )
    assert done.returncode == 0, done.stderr


def test_make_demo_follows_the_ports_the_running_make_run_chose(tmp_path):
    """`make run PORT=8081` (as the port check suggests), then `make demo` in another shell:
    the demo must find that bot and its MLflow, not the defaults."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "run-ports.mk").write_text("HOST ?= 127.0.0.1\nPORT ?= 18081\nMLFLOW_PORT ?= 15001\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "APPROVAL_BOT_"))}
    done = make("-n", "demo", f"VAR={var}", env=env)
    assert done.returncode == 0, done.stderr
    assert "http://127.0.0.1:18081" in done.stdout and "http://127.0.0.1:15001" in done.stdout
    done = make("-n", "demo", f"VAR={var}", "PORT=18082", env=env)
    assert "http://127.0.0.1:18082" in done.stdout, "the command line still wins"


# -- clean keeps the install; reset deletes the local data; stop -------------------------


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of what the Makefile reads, with an 'installed' .venv and local data."""
    copy = tmp_path / "project"
    (copy / "requirements").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "requirements/model.txt"):
        shutil.copyfile(ROOT / name, copy / name)
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    for path in (".venv/bin/python", "var/approval-bot.db", "var/api-token", ".cache/helm/helm"):
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_text("x")
    for cache in (".pytest_cache", ".mypy_cache", ".ruff_cache", "test-artifacts/browser"):
        (copy / cache).mkdir(parents=True)
    return copy


def test_make_clean_keeps_the_install_and_the_local_data(project):
    done = make("clean", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (project / ".venv" / "bin" / "python").exists()
    assert (project / "var" / "approval-bot.db").exists()
    assert (project / ".cache" / "helm" / "helm").exists()
    for cache in (".pytest_cache", ".mypy_cache", ".ruff_cache", "test-artifacts"):
        assert not (project / cache).exists(), cache


def test_make_reset_deletes_the_local_data_and_keeps_the_install(project):
    done = make("reset", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "stop: nothing that `make run` started is running" in done.stdout
    assert not (project / "var").exists()
    assert (project / ".venv" / "bin" / "python").exists()


def test_make_stop_ends_only_the_program_its_pid_file_names(project):
    """A pid file whose process is no longer the bot (the pid was reused) is not killed."""
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        (project / "var" / "bot.pid").write_text(f"{sleeper.pid}\n")
        done = make("stop", cwd=project)
        assert done.returncode == 0, done.stderr
        assert "nothing that `make run` started is running" in done.stdout
        assert sleeper.poll() is None, "a process that is not the bot was stopped"
        assert not (project / "var" / "bot.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_make_distclean_goes_back_to_a_fresh_clone(project):
    done = make("distclean", cwd=project)
    assert done.returncode == 0, done.stderr
    for path in (".venv", "var", ".cache", ".pytest_cache"):
        assert not (project / path).exists(), path
    assert (project / "Makefile").exists()


# -- make image: a container tool that works ---------------------------------------------


def fake_tool(bin_dir: Path, name: str, *, works: bool) -> None:
    """A stand-in for docker/podman/buildah: `info` answers, or fails as a client without its
    daemon does (docker's own message)."""
    answer = (
        "echo 'Server: fake'; exit 0"
        if works
        else "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?' >&2; exit 1"
    )
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\nif [ "$1" = info ]; then {answer}; fi\nexit 0\n')
    script.chmod(0o755)


def choose(tmp_path: Path, **tools: bool) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    os.symlink(shutil.which("timeout") or "/usr/bin/timeout", bin_dir / "timeout")
    for name, works in tools.items():
        fake_tool(bin_dir, name, works=works)
    return subprocess.run(
        [str(ROOT / "scripts" / "container-tool.sh")],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("tools", "chosen"),
    [
        ({"docker": True, "podman": True, "buildah": True}, "docker"),
        ({"docker": False, "podman": True, "buildah": True}, "podman"),
        ({"docker": False, "buildah": True}, "buildah"),  # the issue: no daemon, buildah here
        ({"docker": False, "podman": False, "buildah": True}, "buildah"),
        ({"buildah": True}, "buildah"),
    ],
)
def test_the_container_tool_is_the_first_that_works(tmp_path, tools, chosen):
    done = choose(tmp_path, **tools)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{chosen}\n"


def test_no_working_container_tool_is_one_line_naming_what_was_tried(tmp_path):
    done = choose(tmp_path, docker=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert one_line(done.stderr) == (
        "make image: no container tool works here: docker (installed, but its daemon does not "
        "answer); install one, or set CONTAINER_TOOL=..."
    )


def test_make_image_builds_with_the_tool_that_works(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("timeout") or "/usr/bin/timeout", bin_dir / "timeout")
    fake_tool(bin_dir, "docker", works=False)
    fake_tool(bin_dir, "buildah", works=True)
    done = make("-n", "image", env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert 'tool="buildah"' in done.stdout
    done = make("-n", "image", "CONTAINER_TOOL=podman", env={"PATH": str(bin_dir)})
    assert 'tool="podman"' in done.stdout
