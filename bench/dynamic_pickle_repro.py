"""Minimal reproduction, for an upstream report: every Python dynamic resource leaks one pickle wrapper.

Needs only the Pulumi Python SDK (found with pulumi 3.272.0, Python 3.11; no CLI, no cloud):

    python dynamic_pickle_repro.py               # time and wrapper depth grow; RecursionError near 1000
    python dynamic_pickle_repro.py --workaround  # same program, pickle restored after each serialisation

``pulumi.dynamic.dynamic.serialize_provider`` (sdk/python/lib/pulumi/dynamic/dynamic.py) sets
``pickle._Pickler._batch_setitems`` to a sorting wrapper around the *current* ``_batch_setitems``
and never puts it back (only ``pickle.Pickler`` is restored). ``dynamic.Resource.__init__`` calls it
once per resource, so the Nth dynamic resource pickles its provider's dicts through N nested
wrappers: time per resource grows linearly (the whole program quadratically), and once N nears the
recursion limit every later dynamic resource fails with ``RecursionError: maximum recursion depth
exceeded while calling a Python object``. A program that creates ~1000 dynamic resources cannot
run, in ``pulumi up`` as on the mock runtime below. Possibly the cause of pulumi/pulumi#17803.

The suggested fix, in ``serialize_provider``: remember ``pickle._Pickler._batch_setitems`` and
``pickle._Pickler.save_dict`` before patching them and restore both in the existing ``finally``
(``--workaround`` does exactly that from outside, and shows the bytes do not change).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from importlib import metadata

import pulumi
import pulumi.dynamic.dynamic as sdk_dynamic
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class EchoProvider(ResourceProvider):
    def __init__(self) -> None:
        self.settings = {"b": 2, "a": 1}  # a dict to pickle, as most providers hold

    def create(self, props):
        return CreateResult(id_="id", outs=props)


class Echo(Resource):
    def __init__(self, name: str) -> None:
        super().__init__(EchoProvider(), name, {})


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", args.inputs

    def call(self, args):
        return {}, None


def wrapper_depth() -> int:
    """How many of the SDK's sorting wrappers ``pickle._Pickler._batch_setitems`` is now nested in."""
    method, depth = vars(pickle._Pickler)["_batch_setitems"], 0
    while "unsorted_batch_setitems" in getattr(method.__code__, "co_freevars", ()):
        cells = dict(zip(method.__code__.co_freevars, method.__closure__, strict=True))
        method, depth = cells["unsorted_batch_setitems"].cell_contents, depth + 1
    return depth


def restore_after_each_call() -> None:
    """The fix, applied from outside: serialise, then put pickle back as it was."""
    serialize = sdk_dynamic.serialize_provider

    def serialize_provider(provider):
        saved = {name: vars(pickle._Pickler)[name] for name in ("_batch_setitems", "save_dict")}
        try:
            return serialize(provider)
        finally:
            for name, method in saved.items():
                setattr(pickle._Pickler, name, method)

    sdk_dynamic.serialize_provider = serialize_provider


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workaround", action="store_true", help="restore pickle after each serialisation")
    parser.add_argument("--count", type=int, default=1500, help="dynamic resources to create (default 1500)")
    args = parser.parse_args()
    if args.workaround:
        restore_after_each_call()
    pulumi.runtime.set_mocks(Mocks(), preview=False)
    first = sdk_dynamic.serialize_provider(EchoProvider())
    print(f"pulumi {metadata.version('pulumi')}, dill {metadata.version('dill')}, Python {sys.version.split()[0]}, "
          f"recursion limit {sys.getrecursionlimit()}, workaround {'on' if args.workaround else 'off'}")
    # Depth counts the reference serialisation above too. The provider's class lives in __main__,
    # so dill pickles it by value: several nested dicts, each through every wrapper.
    print(f"{'resources':>9}  {'wrapper depth':>13}  {'ms per resource (last 100)':>26}")
    start = time.perf_counter()
    for i in range(1, args.count + 1):
        try:
            Echo(f"r{i}")
        except RecursionError as exc:
            print(f"{i:>9}  {wrapper_depth():>13}  RecursionError: {exc}")
            return 1
        if i % 100 == 0:
            now = time.perf_counter()
            print(f"{i:>9}  {wrapper_depth():>13}  {(now - start) * 10:>26.2f}")
            start = now
    same = sdk_dynamic.serialize_provider(EchoProvider()) == first
    print(f"{args.count} dynamic resources created; serialised provider unchanged: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
