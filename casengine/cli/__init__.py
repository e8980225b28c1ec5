"""The ``casengine`` command: Kubo's ``ipfs`` verbs and spellings, one module per verb group.

Exit codes: 0 ok, 1 error (one line on stderr, a traceback only with ``--debug``), 2 usage.
Each verb module has ``register(subparsers)``; a verb's handler takes the parsed arguments
and returns an exit code. The global options (``--repo``, ``--json``, ``--debug``) are also
accepted after any verb, so every verb gets them without declaring them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from typing import Iterator, Sequence

from .. import __version__
from ..errors import CasError
from .common import BoolFlagParser, parse_bool

#: Each verb and the module (in this package) that registers it. A run imports only its own
#: verb's module, since importing them all was most of the time of a small ``add``; ``--help``
#: and an unknown verb import every one.
VERBS = {"add": "add", "cat": "files", "get": "files", "ls": "files", "dag": "dag", "stats": "stats",
         "block": "block", "pin": "pin", "repo": "repo", "filestore": "filestore", "hf": "hf",
         "push": "push", "serve": "serve", "dedup": "dedup", "refs": "refs"}


def _encoding(text: str) -> bool:
    """Kubo's ``--encoding``/``--enc``: json, or text (the default)."""
    if text not in ("json", "text"):
        raise argparse.ArgumentTypeError(f"unsupported encoding {text!r} (json or text)")
    return text == "json"


def _global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    """``--repo``, ``--json`` (or Kubo's ``--enc=json``), ``--debug`` (each unless the parser
    already has its own)."""
    options = {
        ("--repo",): dict(default=default, help="repository directory (default: $CASENGINE_REPO or $HF_HOME/casengine)"),
        ("--json",): dict(action="store_true", default=default,
                          help="print results as JSON lines (Kubo's --enc=json objects)"),
        ("--encoding", "--enc"): dict(dest="json", type=_encoding, default=default, metavar="{json,text}",
                                      help="json is --json (Kubo's spelling)"),
        ("--debug",): dict(action="store_true", default=default, help="show tracebacks on errors"),
        ("--cid-base",): dict(default=default, metavar="BASE",
                              help="multibase of the CIDs printed (a CIDv0 is printed as CIDv1 in any but base58btc)"),
        ("--upgrade-cidv0-in-output",): dict(type=parse_bool, default=default, metavar="BOOL",
                                             help="print CIDv0 as CIDv1 (deprecated in Kubo; --cid-base implies it)"),
    }
    for flags, kwargs in options.items():
        if flags[0] not in parser._option_string_actions:
            parser.add_argument(*flags, **kwargs)
    if isinstance(parser, BoolFlagParser):
        parser.bool_flags |= {"--upgrade-cidv0-in-output"}


def leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser that runs a verb (``dag import``, not ``dag``), however deep."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
    for action in subs:
        for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
            yield from leaf_parsers(child)


def _verb(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The verb *argv* runs: its first word that is neither a global option nor such an option's value."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
        action = parser._option_string_actions.get(word)
        if action is not None and action.nargs is None:  # `--repo DIR`: the next word is its value
            next(words, None)
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for the verb *argv* runs (every verb's when *argv* is None or names none)."""
    parser = BoolFlagParser(prog="casengine", description="Content-addressed storage that speaks "
                                     "Kubo: the same CIDs, verbs, flags and output as `ipfs`.")
    parser.add_argument("--version", action="version", version=f"casengine {__version__}")
    _global_options(parser)
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    verb = None if argv is None else _verb(parser, argv)
    for name in [VERBS[verb]] if verb in VERBS else dict.fromkeys(VERBS.values()):
        importlib.import_module(f".{name}", __name__).register(sub)
    for leaf in leaf_parsers(parser):
        if leaf is not parser:
            _global_options(leaf, default=argparse.SUPPRESS)  # never overwrite a value given before the verb
    return parser


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if isinstance(e, (CasError, OSError, ValueError)) else f"{type(e).__name__}: {text}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises KeyboardInterrupt: what a verb cleans up on Ctrl-C
    (a ``get``'s partial files) it cleans up when killed politely too."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as e:  # --help / --version (0) or a usage error (2, already printed)
        return e.code if isinstance(e.code, int) else 2
    if hasattr(sys.stdout, "reconfigure"):  # names that are not UTF-8 are printed as their bytes, as Kubo does
        sys.stdout.reconfigure(errors="surrogateescape")
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return _run(args)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args) or 0
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:  # `casengine cat ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if args.debug:
            raise
        hint = "" if isinstance(e, (CasError, OSError, ValueError)) else " (run with --debug for a traceback)"
        print(f"Error: {_one_line(e)}{hint}", file=sys.stderr)
        return 1
