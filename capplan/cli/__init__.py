"""The `capplan` command line: templates | simulate | recommend | compare | traffic | calibrate
| schema.

Every user error is a CapplanError: printed as one line on stderr, exit code 2,
never a traceback.
"""

from __future__ import annotations

import sys
import warnings
from typing import TextIO

import typer

from capplan.errors import CapplanError

app = typer.Typer(
    name="capplan",
    help=(
        "Size Launch endpoints for SGP model templates by simulating the Launch autoscaler.\n\n"
        "Example: capplan recommend scenarios/chat.toml --out report/"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Subcommand modules register themselves on import; kept apart so each stays small.
    from capplan.cli import (  # noqa: F401
        calibrate_cmd,
        compare_cmd,
        recommend_cmd,
        schema_cmd,
        simulate_cmd,
        templates_cmd,
        traffic_cmd,
    )


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Every warning as one `capplan: warning:` line, not Python's two-line format."""
    print(f"capplan: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point (the console script exits with the returned code)."""
    _register()
    with warnings.catch_warnings():
        warnings.showwarning = _warning_line
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        code = app(args=argv, prog_name="capplan", standalone_mode=False)
    except CapplanError as exc:
        print(f"capplan: error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.Abort:
        print("capplan: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 2  # the help is already printed; there is no error to add
        # Bad CLI arguments (typer's bundled click UsageError): the message names the option.
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"capplan: error: {' '.join(message.split())}", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0
