"""What every command shares for talking to the user: the one-line error and the rich console."""
from __future__ import annotations

import sys

import click

__all__ = ["ReportedError", "console"]


class ReportedError(click.ClickException):
    """A user-facing error: one line on stderr, exit code 1."""

    def show(self, file=None) -> None:  # type: ignore[override]
        click.secho(f"error: {self.message}", err=True, fg="red")


def console(*, stdout: bool = False):
    """rich console: stderr for progress and summaries, stdout for a command's actual answer
    (``info``), so ``rep-deploy info m.onnx > f`` captures it. No colour codes when not a terminal."""
    from rich.console import Console

    stream = sys.stdout if stdout else sys.stderr
    return Console(file=stream, highlight=False, width=None if stream.isatty() else 120)
