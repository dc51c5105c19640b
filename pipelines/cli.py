"""``python -m pipelines compile | upload | submit NAME | run-local NAME`` (+ ``--param k=v``).

``run-local``, ``submit`` and ``upload`` print one JSON value on the last line of stdout (the
pipeline's outputs, the created run's ids, the uploaded versions); errors go to stderr with
exit code 1 (2 for usage errors). Every task runs in the image ``--image`` names, default
``$APPROVAL_BOT_PIPELINES_IMAGE``, else the pipelines' image the Helm chart names by default
(approval-bot-pipelines:VERSION).
``--host`` defaults to ``$KFP_HOST``; ``--token`` to ``$KFP_TOKEN`` or
``$APPROVAL_BOT_KFP_TOKEN``; without either, the projected ServiceAccount token at
``$KF_PIPELINES_SA_TOKEN_PATH`` is sent (read on every call). Every KFP call gives up after
30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipelines import runner
from pipelines.components import DEFAULT_IMAGE

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    compile_cmd = commands.add_parser("compile", help="write the IR YAML of all four pipelines")
    compile_cmd.add_argument("--output-dir", type=Path, default=runner.DEFAULT_OUTPUT_DIR)
    image_help = (
        f"container image of every task (default ${runner.IMAGE_ENV}, else {DEFAULT_IMAGE})"
    )
    compile_cmd.add_argument("--image", default=os.environ.get(runner.IMAGE_ENV), help=image_help)

    def kfp_options(command: argparse.ArgumentParser) -> None:
        host = os.environ.get("KFP_HOST")
        command.add_argument(
            "--host",
            default=host,
            required=not host,
            help="KFP API endpoint, e.g. http://ml-pipeline.kubeflow.svc:8888 (default $KFP_HOST)",
        )
        command.add_argument(
            "--namespace",
            default=os.environ.get("APPROVAL_BOT_KFP_NAMESPACE"),
            help="KFP namespace (default $APPROVAL_BOT_KFP_NAMESPACE)",
        )
        command.add_argument(
            "--token",
            default=os.environ.get("KFP_TOKEN") or os.environ.get("APPROVAL_BOT_KFP_TOKEN"),
            help="bearer token (default $KFP_TOKEN or $APPROVAL_BOT_KFP_TOKEN; without one, the "
            "ServiceAccount token file at $KF_PIPELINES_SA_TOKEN_PATH)",
        )
        command.add_argument("--image", default=os.environ.get(runner.IMAGE_ENV), help=image_help)

    upload_cmd = commands.add_parser(
        "upload", help="upload pipelines to KFP (a version per content hash) without a run"
    )
    upload_cmd.add_argument("names", nargs="*", choices=[[], *runner.names()], metavar="NAME")
    kfp_options(upload_cmd)

    submit_cmd = commands.add_parser("submit", help="upload a pipeline to KFP and start a run")
    submit_cmd.add_argument("name", choices=runner.names())
    submit_cmd.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    submit_cmd.add_argument("--experiment", default="approval-bot")
    submit_cmd.add_argument("--run-name", default=None)
    kfp_options(submit_cmd)

    local_cmd = commands.add_parser(
        "run-local", help="run a pipeline with kfp.local (SubprocessRunner)"
    )
    local_cmd.add_argument("name", choices=runner.names())
    local_cmd.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    local_cmd.add_argument("--pipeline-root", type=Path, default=runner.DEFAULT_LOCAL_ROOT)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "compile":
            for path in runner.compile_all(args.output_dir, image=args.image):
                print(path)
            return 0
        if args.command == "upload":
            uploaded = runner.upload_all(
                host=args.host,
                namespace=args.namespace,
                token=args.token,
                image=args.image,
                pipelines=list(args.names),
            )
            print(json.dumps([u.as_dict() for u in uploaded], sort_keys=True), flush=True)
            return 0
        params = runner.parse_params(args.name, args.param)
        if args.command == "run-local":
            outputs = runner.run_local(args.name, params, pipeline_root=args.pipeline_root)
            result: Mapping[str, object] = outputs
        else:
            result = runner.submit(
                args.name,
                params,
                host=args.host,
                experiment=args.experiment,
                namespace=args.namespace,
                token=args.token,
                run_name=args.run_name,
                image=args.image,
            ).as_dict()
    except runner.UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        message = ANSI_ESCAPE.sub("", str(error))  # kfp.local colours task names
        print(
            f"error: {args.command} {getattr(args, 'name', '')} failed: {message}", file=sys.stderr
        )
        return 1
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0
