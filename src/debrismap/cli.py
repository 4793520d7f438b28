"""The `debrismap` command: one sub-command per verb, each in debrismap.commands.

Verb modules are imported only to build the parser, and must keep heavy imports
(torch, onnxruntime, matplotlib) inside their `run` function, so that
`debrismap detect` never pays for — or needs — the training stack.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
import warnings

from debrismap import __version__
from debrismap.errors import DebrismapError

# OS errors the user's machine causes, not debrismap: full disk or quota, read-only or forbidden paths.
USER_OS_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

# verb -> module in debrismap.commands (qgis-plugin -> qgis_plugin); each module has HELP,
# add_arguments(parser), run(args).
VERBS = [
    "demo",
    "info",
    "synth",
    "chips",
    "train",
    "export",
    "detect",
    "batch",
    "heatmap",
    "compare",
    "timeline",
    "report",
    "evaluate",
    "qgis-plugin",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="debrismap",
        description="Find debris piles in VHR satellite imagery and map their density.",
    )
    parser.add_argument("--version", action="version", version=f"debrismap {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks instead of one-line errors"
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        module_name = f"debrismap.commands.{verb.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # verb not built yet in this checkout
                continue
            raise
        verb_parser = sub.add_parser(
            verb,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_run=module.run)
    return parser


@contextlib.contextmanager
def _warnings_as_lines(verb: str):
    """Show each warning once, as one `debrismap VERB: warning: ...` line on stderr.

    Printed directly rather than through the default `showwarning`, which a host (a notebook,
    pytest) may have redirected: a user must see that CUDA fell back to the CPU.
    """

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"debrismap {verb}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("DEBRISMAP_DEBUG") == "1"
    try:
        with _warnings_as_lines(args.verb):
            return int(args._run(args) or 0)
    except DebrismapError as exc:
        if debug:
            raise
        print(f"debrismap {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"debrismap {args.verb}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # A full disk, or a folder the user may not write, is not a bug: one line, like any bad input.
        if debug:
            raise
        if exc.errno not in USER_OS_ERRORS:
            return _internal_error(args.verb, exc)
        where = exc.filename or getattr(args, "out", None)  # a plain write names no file: name the output
        where = f"{where}: " if where else ""
        print(f"debrismap {args.verb}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"debrismap {args.verb}: error: out of memory", file=sys.stderr)
        return 3
    except Exception as exc:  # a bug, but the user still gets one line, not a traceback
        if debug:
            raise
        return _internal_error(args.verb, exc)


def _internal_error(verb: str, exc: Exception) -> int:
    print(
        f"debrismap {verb}: internal error: {type(exc).__name__}: {exc} "
        "(rerun with --debug for the traceback and please report it)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
