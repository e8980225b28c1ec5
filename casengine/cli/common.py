"""Helpers the verb modules share: Kubo-style bool flags, progress flags, opening the repository,
printing names, and :func:`emit`, the one way a verb prints a result (text, or JSON with ``--json``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Iterable, Sequence

from .. import progress
from ..chunker import go_is_print, go_quote
from ..errors import CidNotFound, InvalidOption, NoRepository
from ..repo import Repo

if TYPE_CHECKING:
    from ..dag.cid import Cid
    from ..exporter import Exporter

class BoolFlagParser(argparse.ArgumentParser):
    """A parser whose Kubo bool options read as go-ipfs-cmds reads them: a bare ``--pin`` means
    ``--pin=true`` and a value is taken only after '=', on short flags too (``-p=false``,
    ``-r=true``), in strconv.ParseBool's spellings. Each parser knows its own (``--recursive`` is a
    bool of ``pin add`` but a switch of ``add``); subparsers are of this class too."""

    bool_flags: frozenset[str] = frozenset()

    def _get_formatter(self) -> argparse.HelpFormatter:
        """argparse's, told the width: HelpFormatter asks shutil for it, and importing shutil
        (bz2 and lzma with it) was 3.5 ms of every run, since each add_argument makes one."""
        return self.formatter_class(prog=self.prog, width=help_width())

    def parse_known_args(self, args: Sequence[str] | None = None, namespace=None):  # type: ignore[override]
        if args is not None:
            args = list(args)
            end = args.index("--") if "--" in args else len(args)
            args = [w for i, a in enumerate(args) for w in (self._as_kubo_reads(a) if i < end else [a])]
            self._refuse_repeats(args[:args.index("--") if "--" in args else len(args)])
        return super().parse_known_args(args, namespace)

    def _refuse_repeats(self, words: list[str]) -> None:
        """go-ipfs-cmds takes an option once (``-Q --quieter``: 'multiple values for option
        "quieter"'); a repeatable one (``--gateway``) any number of times."""
        seen: set[str] = set()
        words = iter(words)
        for word in words:
            if not word.startswith("-") or word == "-":
                continue
            flags = [word.split("=", 1)[0]] if word.startswith("--") or "=" in word else [f"-{c}" for c in word[1:]]
            for flag in flags:
                action = self._option_string_actions.get(flag)
                if action is None or isinstance(action, (argparse._AppendAction, argparse._HelpAction)):
                    break
                if action.dest in seen:
                    name = next((o for o in action.option_strings if o.startswith("--")), flag).lstrip("-")
                    self.error(f'multiple values for option "{name}"')
                seen.add(action.dest)
                if action.nargs != 0:  # it takes a value: the rest of the word, or the next word
                    if flag == word:
                        next(words, None)
                    break

    def _as_kubo_reads(self, word: str) -> list[str]:
        """*word* as argparse should see it: ``--x`` of a bool is ``--x=true``; ``-x=V``/``--x=V``
        of a switch is the bool option of its dest given V, or the bare switch (V true) or nothing."""
        if word in self.bool_flags:
            return [f"{word}=true"]
        flag, eq, value = word.partition("=")
        action = self._option_string_actions.get(flag) if eq and flag.startswith("-") else None
        if action is None or action.nargs != 0:
            return [word]
        partner = next((o for a in self._actions if a.dest == action.dest and a.type is parse_bool
                        for o in a.option_strings if o.startswith("--")), None)
        if partner is not None:
            return [f"{partner}={value}"]
        try:
            return [flag] if parse_bool(value) else []
        except argparse.ArgumentTypeError as e:
            self.error(f"argument {flag}: {e}")


def help_width() -> int:
    """The width argparse formats help to: shutil.get_terminal_size's columns ($COLUMNS, else the
    terminal's, else 80), less 2."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return columns - 2


def parse_bool(text: str) -> bool:
    """A bool as go-ipfs-cmds parses one (Go's strconv.ParseBool), refused in its words."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise argparse.ArgumentTypeError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def add_bool(parser: argparse.ArgumentParser, long: str, short: str | None = None, *,
             default: bool | None = None, help: str = "") -> None:
    """A Kubo bool option: ``--long``, ``--long=BOOL``, and optionally ``-s``."""
    dest = long.lstrip("-").replace("-", "_")
    if isinstance(parser, BoolFlagParser):
        parser.bool_flags |= {long}
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
        progress.write(go_json(obj))
    elif text is not None:
        progress.write(text)


#: What Go's encoding/json escapes in strings beyond JSON's musts (HTML-safe), and a byte that is
#: not UTF-8 (a surrogate escape here), which it writes as U+FFFD.
_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
                    **{chr(c): "\\ufffd" for c in range(0xDC80, 0xDD00)}}
_GO_JSON = str.maketrans(_GO_JSON_ESCAPES)


def go_json(obj: object) -> str:
    """*obj* as one line of Kubo's --enc=json: compact, non-ASCII as it is, and <, >, &, U+2028,
    U+2029 escaped as Go's json.Encoder escapes them (only strings can hold them)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).translate(_GO_JSON)


def add_gateway(parser: argparse.ArgumentParser) -> None:
    """``--gateway URL`` (repeatable): where a read verb fetches what the repository lacks."""
    parser.add_argument("--gateway", action="append", metavar="URL",
                        help="fetch blocks the repository lacks from this trustless gateway, each verified "
                             "and kept (repeatable, tried in order; default: $CASENGINE_GATEWAYS)")


def reader(args: argparse.Namespace, repo: Repo, whole: Iterable[str] = ()) -> Exporter:
    """What a read verb reads through: the repository, or with gateways (``--gateway``,
    ``$CASENGINE_GATEWAYS``) the repository read through to them, every fetched block verified and
    kept. The DAGs at the paths in *whole* are fetched first if incomplete (a CAR when possible)."""
    from ..nodes import gateways_from_env

    urls = getattr(args, "gateway", None) or gateways_from_env()
    if not urls:
        return repo.exporter
    from ..exporter import Exporter  # here, not at import: an add never reads (start-up time)
    from ..nodes import gateway  # and only with gateways: its HTTP client
    from ..stores.tiered import TieredStore

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


#: The multibase names and one-character prefixes Kubo's --cid-base takes (go-multibase v0.3; its
#: base256emoji is refused here: the multiformats library does not encode it).
CID_BASES = {"0": "base2", "f": "base16", "F": "base16upper", "b": "base32", "B": "base32upper", "c": "base32pad",
             "C": "base32padupper", "v": "base32hex", "V": "base32hexupper", "t": "base32hexpad",
             "T": "base32hexpadupper", "k": "base36", "K": "base36upper", "z": "base58btc", "Z": "base58flickr",
             "m": "base64", "u": "base64url", "M": "base64pad", "U": "base64urlpad"}


def cid_text(args: argparse.Namespace, cid: "Cid") -> str:
    """A CID as Kubo prints it with ``--cid-base`` (cmdenv.GetCidEncoder, Kubo 0.41+): a CIDv0 is
    upgraded to CIDv1 when a base other than base58btc is asked for (a CIDv0 has no other form);
    ``--upgrade-cidv0-in-output`` overrides that either way."""
    base = cid_base(args)
    upgrade = getattr(args, "upgrade_cidv0_in_output", None)
    if upgrade is None:
        upgrade = base not in (None, "base58btc")
    if cid.version == 0 and not upgrade:
        return cid.encode()
    return cid.to_v1().encode(base)


def cid_base(args: argparse.Namespace) -> str | None:
    """``--cid-base`` as a multibase name (None: the CIDs' own default); refused in Kubo's words."""
    name = getattr(args, "cid_base", None)
    if not name:  # Kubo: an empty --cid-base is no --cid-base
        return None
    base = CID_BASES.get(name) if len(name) == 1 else (name if name in CID_BASES.values() else None)
    if base is None:
        raise InvalidOption(f"unsupported multibase encoding: {name}")
    return base


def open_repo(args: argparse.Namespace, *, create: bool = False) -> Repo:
    """The repository of ``--repo``; only verbs that add content (*create*) make a new one, so a
    mistyped path is an error instead of an empty repository."""
    try:
        return Repo(args.repo, create=create)
    except NoRepository as e:
        raise NoRepository(f"{e} (only add, block put, dag import and hf add create one)") from None


def esc_name(name: str) -> str:
    """Kubo's EscNonPrint: a name with a backslash or an unprintable character is printed as Go's
    strconv.Quote writes it, without the outer quotes and with ``"`` left as it is. Bytes that are
    not UTF-8 (surrogate escapes here) count as printable, as Go's RuneError does, and are printed
    as they are; in a quoted name they are ``\\xNN``."""
    if "\\" not in name and all(go_is_print(c) or _is_byte(c) for c in name):
        return name
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if _is_byte(c) else go_quote(c)[1:-1].replace('\\"', '"')
                   for c in name)


def _is_byte(c: str) -> bool:
    return "\udc80" <= c <= "\udcff"
