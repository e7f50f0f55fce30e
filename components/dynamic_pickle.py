"""Workaround, ours to carry until upstream fixes it: the Pulumi SDK leaks a pickle patch per dynamic resource.

Upstream code: pulumi 3.272.0, ``sdk/python/lib/pulumi/dynamic/dynamic.py``, ``serialize_provider``
(lines 279-322, called from ``Resource.__init__`` at line 360; unchanged on
pulumi/pulumi master at 1b59498, 2026-08-21). To pickle dicts in sorted order
(so that an unchanged provider serialises to the same bytes) it sets
``pickle._Pickler._batch_setitems`` to a wrapper around *the current* ``_batch_setitems``, and
``pickle._Pickler.save_dict`` to a sorting copy, then restores only ``pickle.Pickler``. Every dynamic
resource therefore adds one wrapper around the last: each later serialisation is slower, and past
about 900 dynamic resources in one process pickling a dict overflows the stack (``RecursionError:
maximum recursion depth exceeded``). ``pulumi up`` runs the program the same way the offline plan
does (``Resource.__init__`` calls ``serialize_provider`` for every dynamic resource), so a stack of
1000 services fails to deploy, not only to plan. Upstream issue: pulumi/pulumi#17803 (closed as not
reproduced); ``bench/dynamic_pickle_repro.py`` reproduces it with the SDK alone.

The workaround wraps ``serialize_provider`` so that each call leaves those two pickle methods as it
found them. Each call then wraps the unpatched method exactly once, as the SDK's first call in a
process does, so the serialised provider keeps its bytes (sorting sorted items changes nothing) and
the dynamic-provider host unpickles it as before. Drop this module when
``tests/test_dynamic_pickle.py::test_the_sdk_still_leaks_without_the_workaround`` fails after an
SDK upgrade: that means upstream fixed it.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from typing import Any, cast

import pulumi.dynamic.dynamic as sdk_dynamic

# What serialize_provider rebinds on pickle's pure-Python pickler and never puts back.
PATCHED = ("_batch_setitems", "save_dict")

_lock = threading.RLock()  # re-entrant: a provider whose pickling made another dynamic resource must not deadlock
WRAPPED_ATTR = "_qwen3_eas_restores_pickle"


def restoring_pickle(serialize: Callable[[Any], str]) -> Callable[[Any], str]:
    def serialize_provider(provider: Any) -> str:
        # One serialisation at a time: two interleaved calls would each restore the other's patch.
        with _lock:
            saved = {name: vars(pickle._Pickler)[name] for name in PATCHED}  # type: ignore[attr-defined]
            try:
                return serialize(provider)
            finally:
                for name, method in saved.items():
                    setattr(pickle._Pickler, name, method)  # type: ignore[attr-defined]

    setattr(serialize_provider, WRAPPED_ATTR, serialize)
    serialize_provider.__doc__ = serialize.__doc__
    return serialize_provider


def install() -> None:
    """Make every dynamic resource of this process serialise its provider without the leak (idempotent).

    ``Resource.__init__`` looks ``serialize_provider`` up in its module at each call, so replacing
    it there covers every dynamic resource created afterwards, ours or anyone's.
    """
    if not hasattr(sdk_dynamic.serialize_provider, WRAPPED_ATTR):
        sdk_dynamic.serialize_provider = restoring_pickle(sdk_dynamic.serialize_provider)  # type: ignore[assignment]


def sdk_serialize_provider() -> Callable[[Any], str]:
    """The SDK's own ``serialize_provider``, unwrapped (tests compare bytes and show the leak with it)."""
    current = sdk_dynamic.serialize_provider
    return cast(Callable[[Any], str], getattr(current, WRAPPED_ATTR, current))
