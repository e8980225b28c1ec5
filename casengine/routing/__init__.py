"""The router's parts: the seed's backend API over one node (:mod:`.backends`) and the chain of
tiers that falls back from one to the next (:mod:`.fallback`). ``casengine.ipfs_backend_router``
is the seed's module API on top of them."""


def given(**kwargs: object) -> dict[str, object]:
    """Only the keyword arguments that were given: a registered seed-style backend may not know them."""
    return {k: v for k, v in kwargs.items() if v is not None}
