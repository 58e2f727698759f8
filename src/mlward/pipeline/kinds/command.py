"""``command`` and ``train`` stages: run the user's program with declared inputs/outputs."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from typing import Any, ClassVar

from pydantic import Field

from mlward.core.errors import InputError, PolicyViolation
from mlward.pipeline.kinds.base import KindOptions, StageContext, StageKind, StageOutcome, file_digest


class CommandOptions(KindOptions):
    """Options of a ``command`` stage."""

    run: str
    """The command line (split like a shell would, but run without a shell)."""
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=3600, gt=0)
    metrics_file: str | None = None
    """A JSON file the command writes; its content becomes the stage's metrics."""


class TrainOptions(CommandOptions):
    """Options of a ``train`` stage: a command that produces a model file."""

    model: str
    """Path of the model artifact the command writes."""


class CommandKind(StageKind):
    """Run a program; non-zero exit fails the stage."""

    name = "command"
    Options: ClassVar[type[CommandOptions]] = CommandOptions
    metrics_key = "command"

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        outputs = [options.metrics_file] if options.metrics_file else []
        return [], outputs

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        argv = shlex.split(options.run)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable  # the interpreter mlward runs in, with its packages
        env = {
            **os.environ,
            **options.env,
            "MLWARD_STAGE": ctx.stage,
            "MLWARD_RUN_ID": ctx.run_id,
            "MLWARD_PARAMS": json.dumps(ctx.params),
        }
        ctx.log(f"$ {options.run}")
        try:
            proc = subprocess.run(
                argv,
                cwd=ctx.workspace.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=options.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise InputError(f"stage {ctx.stage}: command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise PolicyViolation(
                f"stage {ctx.stage}: command timed out after {options.timeout:.0f} s"
            ) from None
        for line in (proc.stdout + proc.stderr).splitlines()[-20:]:
            ctx.log(line)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise PolicyViolation(f"stage {ctx.stage}: command exited with {proc.returncode}: {tail[0]}")
        metrics: dict[str, Any] = {"exit_code": 0}
        if options.metrics_file:
            path = ctx.path(options.metrics_file)
            try:
                metrics.update(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"stage {ctx.stage}: cannot read metrics file {path}: {exc}") from exc
        return StageOutcome(metrics={self.metrics_key: metrics}, summary=f"exit 0: {options.run}")


class TrainKind(CommandKind):
    """Train a model with the user's command; the model file is a declared output."""

    name = "train"
    Options = TrainOptions
    metrics_key = "train"

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        _, outputs = super().io(options)
        return [], [options.model, *outputs]

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        outcome = super().run(ctx, options)
        model = ctx.path(options.model)
        if not model.exists():
            raise InputError(f"stage {ctx.stage}: the command did not write the model {options.model}")
        digest = file_digest(model)
        return StageOutcome(
            metrics=outcome.metrics,
            produced={options.model: digest},
            summary=f"trained {options.model} (sha256:{digest[:12]})",
        )
