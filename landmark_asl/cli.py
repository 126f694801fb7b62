"""The `landmark-asl` command line: each command parses options, calls the library, prints a summary."""

from __future__ import annotations

import functools
import sys
from pathlib import Path  # noqa: F401  (used by the commands' click.Path types)

import click

from landmark_asl import __version__
from landmark_asl.exceptions import LandmarkASLError


class _Group(click.Group):
    """Turn library errors into one line and exit status 1; `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LandmarkASLError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="landmark-asl")
@click.option("-v", "--verbose", is_flag=True, help="Show MediaPipe/TFLite native log output.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """Recognise the ASL fingerspelling alphabet from MediaPipe hand landmarks."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["debug"] = debug


def _quiet_unless_verbose(func):
    """Silence native MediaPipe logging for a command unless `-v` was given."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        if not ctx.find_root().obj.get("verbose"):
            from landmark_asl.extraction import quiet_native_logs

            quiet_native_logs()
        return func(*args, **kwargs)

    return wrapper


# --- extract (owner: extraction) ---------------------------------------------

# --- train / compare / predict (owner: compare) --------------------------------

# --- live (owner: live) -------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
