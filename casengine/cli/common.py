"""Helpers the verb modules share: Kubo-style bool flags, progress flags, opening the repository,
printing names, and :func:`emit`, the one way a verb prints a result (text, or JSON with ``--json``)."""

from __future__ import annotations

import argparse
import json
from typing import Iterable

from .. import progress
from ..chunker import go_quote
from ..errors import CidNotFound, NoRepository
from ..exporter import Exporter
from ..repo import Repo
from ..stores.tiered import TieredStore

#: Long bool flags; a bare ``--flag`` is rewritten to ``--flag=true`` before parsing.
BOOL_LONG_FLAGS: set[str] = set()


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_bool(parser: argparse.ArgumentParser, long: str, short: str | None = None, *,
             default: bool | None = None, help: str = "") -> None:
    """A Kubo bool option: ``--long``, ``--long=BOOL``, and optionally ``-s``."""
    dest = long.lstrip("-").replace("-", "_")
    BOOL_LONG_FLAGS.add(long)
    if short:
        parser.add_argument(short, dest=dest, action="store_const", const=True, default=default,
                            help=f"same as {long}")
    parser.add_argument(long, dest=dest, type=parse_bool, default=default, metavar="BOOL", help=help)


def add_progress(parser: argparse.ArgumentParser) -> None:
    """``-p/--progress[=BOOL]`` and ``--no-progress``; unset means: only when stderr is a terminal."""
    add_bool(parser, "--progress", "-p", help="show a progress bar (default: when stderr is a terminal)")
    parser.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                        help="never show a progress bar")


def emit(args: argparse.Namespace, obj: dict, text: str | None) -> None:
    """Print one result: with ``--json`` *obj* as one JSON line (Kubo's ``--enc=json`` field names),
    else *text* (a line without its newline; None prints nothing)."""
    if getattr(args, "json", False):
        progress.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    elif text is not None:
        progress.write(text)


def add_gateway(parser: argparse.ArgumentParser) -> None:
    """``--gateway URL`` (repeatable): where a read verb fetches what the repository lacks."""
    parser.add_argument("--gateway", action="append", metavar="URL",
                        help="fetch blocks the repository lacks from this trustless gateway, each verified "
                             "and kept (repeatable, tried in order; default: $CASENGINE_GATEWAYS)")


def reader(args: argparse.Namespace, repo: Repo, whole: Iterable[str] = ()) -> Exporter:
    """What a read verb reads through: the repository, or with gateways (``--gateway``,
    ``$CASENGINE_GATEWAYS``) the repository read through to them, every fetched block verified and
    kept. The DAGs at the paths in *whole* are fetched first if incomplete (a CAR when possible)."""
    from ..nodes import gateway

    urls = getattr(args, "gateway", None) or gateway.from_env()
    if not urls:
        return repo.exporter
    tier = gateway.GatewayTier(urls)
    ex = Exporter(TieredStore(repo.store, tier))
    for path in whole:
        cid = ex.resolve(path).cid
        try:
            for _ in repo.dag_blocks(cid):
                pass
        except CidNotFound:
            with repo.writing():
                tier.fetch_dag(cid, repo.store)
    return ex


def open_repo(args: argparse.Namespace, *, create: bool = False) -> Repo:
    """The repository of ``--repo``; only verbs that add content (*create*) make a new one, so a
    mistyped path is an error instead of an empty repository."""
    try:
        return Repo(args.repo, create=create)
    except NoRepository as e:
        raise NoRepository(f"{e} (only add, block put, dag import and hf add create one)") from None


def esc_name(name: str) -> str:
    """Kubo's EscNonPrint: a name with a backslash or an unprintable character is printed as Go's
    strconv.Quote writes it, without the outer quotes and with ``"`` left as it is."""
    if name.isprintable() and "\\" not in name:
        return name
    return go_quote(name)[1:-1].replace('\\"', '"')

