"""Parameters kept as lists, tuples or nested dicts of arrays.

numpy-from-scratch code keeps its weights as ``{"ws": [W1, W2], "bs": [b1,
b2]}`` or ``{"layers": {"fc1": {"W": ..., "b": ...}}}``. Each array is a
block of its own, named by its path (``ws[0]``, ``layers.fc1.W``), so it
is sampled, checked and reported like any other; the model is called with
the structure it gave, rebuilt around the blocks, and its gradient is read
back along the same paths. A key a dotted path could not tell apart (one
holding ``.``, ``[`` or ``]``, or empty) is spelled quoted in brackets:
``{"fc.W": A, "fc": {"W": B}}`` has the blocks ``['fc.W']`` and
``fc.W``, so that each path names one array.

A *template* is the structure with each array replaced by its block's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ModelError, listed

# The name a top-level list's elements get: params[0], params[1].
TOP = "params"


def _step(path: str, key: str) -> str:
    """The path of ``key`` of the dict at ``path``: ``path.key``, or
    ``path['key']`` where the key holds what a path is made of."""
    if key and not any(c in key for c in ".[]"):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _is_leaf(value: Any) -> bool:
    """An array block: an ndarray, or a list of numbers (not of arrays)."""
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return True
    if isinstance(value, (list, tuple)):
        return not any(isinstance(v, (np.ndarray, Mapping, list, tuple)) for v in value)
    return not isinstance(value, Mapping)


def is_structured(raw: Any) -> bool:
    """Whether ``raw`` nests: a dict with a dict or a list of arrays in it,
    or a list or tuple of arrays."""
    if isinstance(raw, Mapping):
        return any(not _is_leaf(v) for v in raw.values())
    return isinstance(raw, (list, tuple)) and not _is_leaf(raw)


def flatten(raw: Any) -> tuple[dict[str, Any], Any]:
    """The blocks of a nested structure by path, and its template."""
    blocks: dict[str, Any] = {}

    def walk(value: Any, path: str):
        if isinstance(value, Mapping):
            template = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ModelError(f"the params have a non-string key {key!r} at {path or 'the top'}; "
                                     "block names must be strings")
                template[key] = walk(item, _step(path, key))
            return template
        if isinstance(value, (list, tuple)) and not _is_leaf(value):
            items = [walk(item, f"{path or TOP}[{i}]") for i, item in enumerate(value)]
            return tuple(items) if isinstance(value, tuple) else items
        blocks[path] = value
        return path

    return blocks, walk(raw, "")


def unflatten(template: Any, blocks: Mapping[str, Any]) -> Any:
    """The structure of ``template`` with each block's name replaced by its array."""
    if isinstance(template, str):
        return blocks[template]
    if isinstance(template, dict):
        return {key: unflatten(item, blocks) for key, item in template.items()}
    items = [unflatten(item, blocks) for item in template]
    return tuple(items) if isinstance(template, tuple) else items


def read_gradient(template: Any, result: Any, label: str) -> dict[str, Any]:
    """The gradient's value for each block, read along the template's paths;
    a ModelError naming the path where its structure differs."""
    found: dict[str, Any] = {}

    def walk(shape: Any, value: Any, path: str) -> None:
        if isinstance(shape, str):
            found[shape] = value
            return
        where = path or "the top"
        if isinstance(shape, dict):
            if not isinstance(value, Mapping):
                raise ModelError(f"{label} has a {type(value).__name__} at {where}, where the params have a dict "
                                 f"with keys {listed(shape)}")
            missing = [k for k in shape if k not in value]
            if missing:
                raise ModelError(f"{label} has no {listed(missing)} at {where} (its keys there: "
                                 f"{listed(value) or 'none'})")
            for key, item in shape.items():
                walk(item, value[key], _step(path, key))
            return
        if not isinstance(value, (list, tuple)) or len(value) != len(shape):
            got = f"{len(value)} items" if isinstance(value, (list, tuple)) else f"a {type(value).__name__}"
            raise ModelError(f"{label} has {got} at {where}, where the params have a list of {len(shape)} arrays")
        for i, (item, inner) in enumerate(zip(shape, value)):
            walk(item, inner, f"{path or TOP}[{i}]")

    walk(template, result, "")
    return found
