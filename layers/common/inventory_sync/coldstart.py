"""A function's modules loaded without the cyclic garbage collector (docs/decisions/0013).

Loading the modules creates some hundred thousand objects (classes, functions, pydantic schemas, the
registry) that live as long as the execution environment, and almost no garbage. With the collector on,
those allocations trigger collections that walk the young objects again and again (over a hundred while
dispatch loads), and on Python 3.11 a full collection that walks them all: measured, about 6% of a cold
start's import CPU on Python 3.12 (the Lambda runtime) and up to a fifth on 3.11, spent finding nothing.

``loading_modules()`` switches the collector off while the function's modules load, then moves every
object alive at that point into the permanent generation (``gc.freeze()``), so that later collections
during invocations never walk them again either, and switches the collector back on (unless it was off
before). The few cycles made while loading are kept for the life of the environment: a few dozen objects.

Only the process's first complete load freezes, when its outermost ``loading_modules()`` block ends. Lambda
loads a function once per execution environment; the local stack and the tests load fresh copies of a
function module in one process again and again, and a frozen copy would never be freed once dropped.

Our pydantic models are declared with ``defer_build=True``: each is built when first used, so a request
builds its own route's models only. Under SnapStart that would be paid after every restore instead of once
before the snapshot: ``build_deferred_models()`` (the before-snapshot hook) builds them all first.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel

_frozen = False
_depth = 0  # loading_modules() blocks open (a module loaded inside one may open another)


@contextmanager
def loading_modules() -> Iterator[None]:
    global _frozen, _depth
    was_enabled = gc.isenabled()
    gc.disable()
    _depth += 1
    try:
        yield
        if _depth == 1 and not _frozen:  # after a complete load only: a failed one leaves nothing to keep
            gc.freeze()
            _frozen = True
    finally:
        _depth -= 1
        if was_enabled:
            gc.enable()


def waiting_models() -> list[type[BaseModel]]:
    """The pydantic models of the loaded ``inventory_sync`` modules still waiting for their first use
    (``defer_build``)."""
    from pydantic import BaseModel

    return [value for name, module in list(sys.modules.items())
            if name == "inventory_sync" or name.startswith("inventory_sync.")
            for value in list(vars(module).values())
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == name
            and not value.__pydantic_complete__]


def build_deferred_models() -> int:
    """Build every model `waiting_models()` lists; returns how many were built. A model that cannot be built
    raises here, as it would at its first use."""
    waiting = waiting_models()
    for model in waiting:
        model.model_rebuild(_types_namespace=vars(sys.modules[model.__module__]))  # names as its module has them
    return len(waiting)
