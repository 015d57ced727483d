"""Which coordinates and directions of each parameter block to check.

Sampling is per block, never from one concatenated vector: a bias is a tiny
share of all parameters and would almost never be picked. Each block draws
from its own generator seeded by (seed, block name), so adding a block to a
model does not change which coordinates the others check.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlockPlan:
    """What to check in one parameter block."""

    name: str
    shape: tuple[int, ...]
    indices: np.ndarray  # flat indices of the coordinates to check, ascending
    directions: np.ndarray  # (K, size) unit vectors for the directional check

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def block_rng(seed: int, name: str) -> np.random.Generator:
    """The generator for one block's choices: stable across runs and block order."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def plan_block(name: str, shape: tuple[int, ...], samples: int | None, directions: int, seed: int) -> BlockPlan:
    """Coordinates and directions for one block.

    A block with at most ``samples`` elements (or ``samples=None``) is
    checked at every coordinate, and then random directions add nothing, so
    none are drawn for it.
    """
    size = int(np.prod(shape, dtype=np.int64))
    rng = block_rng(seed, name)
    if samples is None or size <= samples:
        indices = np.arange(size)
        count = 0
    else:
        indices = np.sort(rng.choice(size, size=samples, replace=False))
        count = directions
    vectors = rng.standard_normal((count, size))
    if count:
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return BlockPlan(name, tuple(shape), indices, vectors)


def plan(params: dict[str, np.ndarray], *, samples: int | None, directions: int, seed: int) -> list[BlockPlan]:
    """One BlockPlan per parameter block, in the params' order."""
    return [plan_block(name, block.shape, samples, directions, seed) for name, block in params.items()]
