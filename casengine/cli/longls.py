"""``ls --long``: Kubo 0.43.1's mode and mtime columns (kubo core/commands/ls.go formatMode and
formatModTime), for entries added with UnixFS 1.5 metadata; ``-`` where none is stored; and the
order ``ls --stream`` lists a HAMT in."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterator

from ..dag import hamt
from ..dag.unixfs import DataType
from ..errors import UnixFSError

if TYPE_CHECKING:
    from ..dag.pb import PBLink
    from ..exporter import Exporter, Node

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_NS = 1_000_000_000


def format_mode(mode: int | None, kind: DataType) -> str:
    """``drwxr-xr-x`` from the stored permission bits; setuid/setgid/sticky take the execute
    places (s/S, t/T, lowercase when the execute bit is set too)."""
    if not mode:
        return "-"
    kind_char = "d" if kind in (DataType.DIRECTORY, DataType.HAMT_SHARD) else "l" if kind == DataType.SYMLINK else "-"
    out = [kind_char]
    for shift, special, mark in ((6, 0o4000, "s"), (3, 0o2000, "s"), (0, 0o1000, "t")):
        bits = mode >> shift
        out += ["r" if bits & 4 else "-", "w" if bits & 2 else "-"]
        x = bits & 1
        out.append((mark if x else mark.upper()) if mode & special else ("x" if x else "-"))
    return "".join(out)


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count from 1970-01-01, any year (Hinnant's civil_from_days)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _days(year: int, month: int, day: int) -> int:
    """Inverse of _civil; *month* and *day* may be out of range, normalised as Go's time.Date does."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 + day - 1


def format_mtime(mtime_ns: int | None, now_ns: int | None = None) -> str:
    """``Jan 02 15:04`` within the last six months (Go's AddDate(0, -6, 0)) and the next 24 hours,
    else ``Jan 02  2006``; in UTC."""
    if mtime_ns is None:
        return "-"
    now = time.time_ns() if now_ns is None else now_ns
    now_days, now_rest = divmod(now, 86400 * _NS)
    y, m, d = _civil(now_days)
    six_months_ago = _days(y, m - 6, d) * 86400 * _NS + now_rest
    days, rest = divmod(mtime_ns, 86400 * _NS)
    year, month, day = _civil(days)
    if six_months_ago < mtime_ns < now + 86400 * _NS:
        minutes = rest // (60 * _NS)
        return f"{_MONTHS[month - 1]} {day:02d} {minutes // 60:02d}:{minutes % 60:02d}"
    return f"{_MONTHS[month - 1]} {day:02d}  {'-' if year < 0 else ''}{abs(year):04d}"  # Go pads the year to 4


def walk_order(ex: "Exporter", node: "Node") -> Iterator[tuple[str, "PBLink"]]:
    """A directory's (name, link) entries in the order Kubo's ``ls --stream`` meets them:
    a basic directory's in link order; boxo walks a HAMT shard by shard, each shard's own entries
    in link order before any of its sub-shards', level by level (where its parallel walk is
    deterministic, up to two levels, this is its order). A sub-shard linked twice is refused
    (Exporter.sub_shard)."""
    if node.type != DataType.HAMT_SHARD:
        yield from ex.links(node)
        return
    level, seen = [node], {node.cid.multihash}
    for _ in range(8 * 8):
        below = []
        for shard in level:
            for name, link in hamt.entries(shard.pb, shard.fs):
                if name is not None:
                    yield name, link
                else:
                    below.append(link)
        level = [ex.sub_shard(link, seen) for link in below]
        if not level:
            return
    raise UnixFSError("HAMT nested deeper than its hash allows")
