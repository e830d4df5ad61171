"""The ``landslide-app`` command line.

Each sub-command is a thin layer over a backend function, declared next to its handler in one module
per command group: :mod:`.data` (scene, terrain, chips, info, check), :mod:`.training` (ablate,
train), :mod:`.maps` (predict, respond, embed), :mod:`.apps` (demo, app); :mod:`.common` holds the
shared option types and the output line, :mod:`.rules` the input/output rules every command follows.
Errors the user can fix (:class:`~landslide_app.errors.LandslideAppError`) print one clear message and
exit non-zero without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence

from landslide_app import __version__
from landslide_app.cli import apps, data, maps, rules, training
from landslide_app.cli.common import CliParser, SubParsers
from landslide_app.errors import ConfigError, LandslideAppError, OutputError

log = logging.getLogger("landslide_app")

#: Each sub-command's parser, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[SubParsers], None], ...] = (
    data.add_scene,
    data.add_terrain,
    data.add_chips,
    data.add_info,
    data.add_check,
    training.add_ablate,
    training.add_train,
    maps.add_predict,
    maps.add_respond,
    maps.add_embed,
    apps.add_demo,
    apps.add_app,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``landslide-app`` parser: global options, then every sub-command of :data:`COMMANDS`."""
    p = CliParser(
        prog="landslide-app",
        description="Landslide-density maps from Sentinel-1 SAR and elevation (offline demo, chips, model, dashboard).",
    )
    p.add_argument("--version", action="version", version=f"landslide-app {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return p


def _fail(exc: BaseException, debug: bool) -> int:
    """Report an error the user can act on: one message on stderr, no traceback; the exit code."""
    if isinstance(exc, LandslideAppError):
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    if isinstance(exc, OSError):  # e.g. a full disk or a permission refused while writing
        from landslide_app.atomic import temp_target

        where = f" ({temp_target(exc.filename)})" if exc.filename else ""
        sys.stderr.write(
            f"error: {exc.strerror or exc}{where}; check the path, free disk space and "
            "permissions, then rerun the same command (finished work is kept)\n"
        )
        return OutputError.exit_code
    sys.stderr.write(f"internal error: {type(exc).__name__}: {exc}\n(rerun with --debug for details)\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, apply the shared rules (:mod:`.rules`), run the command; its exit code."""
    import os

    # idle torch/OpenMP threads spin by default, which starves the other core on small machines
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    parser = build_parser()
    try:
        a = parser.parse_args(argv)
    except ConfigError as exc:  # a wrong option: message and usage, exit 2 like argparse
        if debug:
            raise
        raise SystemExit(_fail(exc, debug)) from None
    logging.basicConfig(
        level=logging.DEBUG if a.debug else (logging.WARNING if a.quiet else logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
    )
    rules.install_warning_handler(a.debug)
    guard = rules.OutputGuard(None)
    try:  # the shared rules: no output over an input, output kind, before any work
        out = rules.check_command_paths(a.command, a, rules.option_flags(parser, a.command))
        guard = rules.OutputGuard.before(out)
        return a.func(a)
    except BrokenPipeError:  # the reader closed stdout (e.g. `| head -1`): stop quietly
        with contextlib.suppress(OSError, ValueError):  # no flush error at exit either
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; rerun the same command to resume\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: never a bare traceback for users
        guard.cleanup_after_failure()
        if a.debug:
            raise
        return _fail(exc, a.debug)
