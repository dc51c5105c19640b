"""Drive the real `approval-bot` CLI: in-process through click's runner (fast), or
as a subprocess (proves the entry point itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from bot.entrypoints.cli import cli as cli_group


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    def __init__(self, db_url: str, cwd: Path, *, subprocess: bool = False) -> None:
        self.env = {"APPROVAL_BOT_DATABASE_URL": db_url, "APPROVAL_BOT_CONFIG": ""}
        self.cwd = cwd
        self.subprocess = subprocess

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        if self.subprocess:
            proc = subprocess.run(
                [sys.executable, "-m", "bot", *args],
                env={**os.environ, **self.env},
                cwd=self.cwd,
                capture_output=True,
                text=True,
                input=stdin,
                timeout=120,
            )
            return Result(proc.returncode, proc.stdout, proc.stderr)
        old = Path.cwd()
        os.chdir(self.cwd)
        try:
            res = CliRunner().invoke(
                cli_group,
                list(args),
                env=self.env,
                input=stdin,
                prog_name="approval-bot",
                catch_exceptions=False,
            )
        finally:
            os.chdir(old)
        return Result(res.exit_code, res.stdout, res.stderr)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        res = self(*args, stdin=stdin)
        assert res.code == 0, f"{args}: exit {res.code}\n{res.err}"
        return res.out

    def fails(self, *args: str) -> str:
        res = self(*args)
        assert res.code != 0, f"{args} should fail:\n{res.out}"
        lines = res.err.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {res.err!r}"
        return lines[0]
