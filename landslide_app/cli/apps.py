"""App commands: ``demo`` (prepare the offline demo once) and ``app`` (serve the dashboard with
Voila); parsers beside handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

from landslide_app.cli import rules
from landslide_app.cli.common import SubParsers, emit, non_negative_int


def cmd_demo(a: argparse.Namespace) -> int:
    from landslide_app.demo import prepare_demo

    paths = prepare_demo(a.data, size=a.size, seed=a.seed, progress=not a.quiet)
    emit(f"demo ready under {paths.root} (scene: {paths.scene}, chips: {paths.chips})")
    return 0


def add_demo(sub: SubParsers) -> None:
    s = sub.add_parser("demo", help="prepare the offline demo (scene + chips) once; later runs reuse it")
    s.add_argument("--data", type=Path, default=Path("data/demo"), help="data directory (default data/demo)")
    s.add_argument("--size", default="demo", help="scene size (demo, pr, tiny, COLSxROWS)")
    s.add_argument("--seed", default=0, type=non_negative_int)
    s.set_defaults(func=cmd_demo)


def cmd_app(a: argparse.Namespace) -> int:
    from landslide_app.dashboard.serve import serve

    rules.check_port_free(a.port)
    return serve(a.data, port=a.port, open_browser=not a.no_browser, root=a.root)


def add_app(sub: SubParsers) -> None:
    s = sub.add_parser("app", help="serve the dashboard with Voila")
    s.add_argument(
        "--data",
        type=Path,
        default=Path("data/demo"),
        help="workspace to open: the demo, or any folder made by chips/train/ablate/predict/respond, or a "
        "folder of workspaces (default data/demo)",
    )
    s.add_argument(
        "--root",
        type=Path,
        default=None,
        help="folder whose workspaces the page lists, where New workspace creates them (default: the parent of --data)",
    )
    s.add_argument("--port", type=rules.port, default=8866, help="TCP port on 127.0.0.1 (default 8866)")
    s.add_argument("--no-browser", action="store_true", help="do not open a browser")
    s.set_defaults(func=cmd_app)
