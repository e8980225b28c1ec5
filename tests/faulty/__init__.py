"""Peers that misbehave on purpose, for tests/test_faults.py and bench/faults.py.

* :mod:`faulty.rpc`: a threaded HTTP server on 127.0.0.1 speaking enough of Kubo's ``/api/v0``
  to be selected as the Kubo RPC tier, serving real blocks, that corrupts, truncates, cuts,
  trickles, fails with Kubo's error envelope, hangs up, or never answers, per command.
* :mod:`faulty.kubo_cmd`: a ``KUBO_CMD`` for the CLI tier that hangs, trickles, prints garbage,
  prints a wrong CID, or exits non-zero.
* :mod:`faulty.gateway`: a trustless gateway in front of a real one (``casengine serve``, Kubo's)
  that flips a byte of its answers or answers for other content.

Real sockets and real processes: what is under test is casengine's client, not a mock of it.
"""
