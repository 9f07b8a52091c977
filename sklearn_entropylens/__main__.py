"""``python -m sklearn_entropylens``: the full demo, or any ``entropylens`` subcommand.

Without a subcommand it runs ``entropylens demo`` (its options, such as ``--model`` and
``--output-dir``, pass through); ``python -m sklearn_entropylens profile prompts.txt`` and the other
subcommands work as with the installed ``entropylens`` command.
"""

import sys

from ._cli import main as cli_main

_SUBCOMMANDS = ("profile", "experiment", "models", "demo", "-h", "--help")


def main(argv=None):
    """Run the demo (no subcommand given) or the named subcommand; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in _SUBCOMMANDS:
        argv = ["demo", *argv]
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
