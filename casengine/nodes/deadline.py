"""How long one call to a remote tier may wait on its peer, so no peer can hold a call for ever.

A timeout on each socket operation stops a peer that goes silent, not one that trickles: a
byte a second restarts it every time, and a 256 KiB block would take three days. So a call
also has a budget in total: *timeout* seconds, plus one second for every *min_rate* bytes that
moved (either way). A working peer earns time faster than it spends it; a silent one is
stopped after *timeout* seconds without a byte, a trickling one after about *timeout*
seconds in all. Only time spent waiting on the peer is counted, not time the caller takes
between reads of a stream. The answer gets a budget of its own once the request is sent
(:meth:`Deadline.restart`): time a large upload earned is not spent on a trickled answer.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from ..errors import RemoteTimeout

T = TypeVar("T")

#: Bytes per second below which a transfer is given up once its first *timeout* seconds are spent.
MIN_RATE = 64 << 10


class Deadline:
    """The time budget of one remote call described by *what* (for the error message)."""

    def __init__(self, timeout: float, what: str, min_rate: float = MIN_RATE):
        self.timeout = timeout
        self.what = what
        self.min_rate = min_rate
        self.waited = 0.0  # seconds spent waiting on the peer
        self.quiet = 0.0   # of which since the last byte moved
        self.moved = 0     # bytes sent and received

    def budget(self) -> float:
        """Seconds the next wait may last; RemoteTimeout when none are left."""
        left = min(self.timeout - self.quiet, self.timeout + self.moved / self.min_rate - self.waited)
        if left <= 0:
            raise self.expired()
        return left

    def restart(self) -> None:
        """Start the next phase (the answer, once the request is sent) with a fresh budget."""
        self.waited = self.quiet = 0.0
        self.moved = 0

    def spent(self, seconds: float, moved: int = 0) -> None:
        """Count a wait of *seconds* that moved *moved* bytes."""
        self.waited += seconds
        self.quiet = 0.0 if moved else self.quiet + seconds
        self.moved += moved

    def wait(self, op: Callable[[float], T], moved: Callable[[T], int] = lambda _: 0) -> T:
        """*op*(seconds it may take), charged to the budget; RemoteTimeout if it times out."""
        allowed = self.budget()
        start = time.monotonic()
        try:
            result = op(allowed)
        except TimeoutError:
            self.spent(time.monotonic() - start)
            raise self.expired() from None
        self.spent(time.monotonic() - start, moved(result))
        return result

    def expired(self) -> RemoteTimeout:
        if self.quiet >= self.timeout or not self.moved:
            return RemoteTimeout(f"{self.what}: no answer within {self.timeout:g} s")
        return RemoteTimeout(f"{self.what}: {self.moved} bytes in {self.waited:.1f} s, slower than "
                             f"{self.min_rate:g} bytes/s after the first {self.timeout:g} s")
