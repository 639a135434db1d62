"""The ``rep-deploy`` command line: each command is a thin shell over one library function."""
from __future__ import annotations

import sys

import click

from rep_deploy import __version__


class ReportedError(click.ClickException):
    """A user-facing error: one line on stderr, exit code 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rep-deploy")
def main() -> None:
    """Deploy binary neural networks (RepBNNs and their base BNNs) from PyTorch to edge devices.

    \b
    Typical flow:
      rep-deploy zoo                                   # the models rep-deploy knows
      rep-deploy export rep-reactnet-a --checkpoint model_best.pth.tar -o out/
      rep-deploy info out/model.onnx

    Run `rep-deploy COMMAND --help` for each command's options.
    """


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
