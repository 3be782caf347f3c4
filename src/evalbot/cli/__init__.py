"""The ``evalbot`` command line: argument parsing, printing and the one map from errors to exits.

``app`` builds the parser and runs a command; each command's own options and printing live here
too, so the stages below never import argparse or print.
"""

from __future__ import annotations

from evalbot.cli.app import build_parser, console_main, main

__all__ = ["build_parser", "console_main", "main"]
