"""Deterministic splits by hashing a key: the same key lands in the same split on every run,
every worker and every runner (no Python `hash`, which is salted per process)."""

from __future__ import annotations

import dataclasses
import hashlib


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Split names and their relative sizes, e.g. (("train", 8), ("eval", 1), ("test", 1))."""

    splits: tuple[tuple[str, int], ...] = (("train", 8), ("eval", 1), ("test", 1))

    def __post_init__(self):
        if not self.splits:
            raise ValueError("SplitConfig needs at least one split.")
        names = [name for name, _ in self.splits]
        if len(set(names)) != len(names):
            raise ValueError(f"Split names must be unique. Received: {names}")
        for name, weight in self.splits:
            if not name or not name.replace("_", "").isalnum():
                raise ValueError(f"Split name {name!r} must be alphanumeric (underscores allowed).")
            if weight <= 0:
                raise ValueError(f"Split weights must be positive. Received: {name}={weight}")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.splits]

    def index_of(self, key: str) -> int:
        """Returns the index of the split that `key` belongs to."""
        total = sum(weight for _, weight in self.splits)
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        bucket = int.from_bytes(digest, "big") % total
        for index, (_, weight) in enumerate(self.splits):
            if bucket < weight:
                return index
            bucket -= weight
        raise AssertionError("unreachable")

    @classmethod
    def parse(cls, text: str) -> "SplitConfig":
        """Parses "train:8,eval:1,test:1"."""
        try:
            pairs = tuple((name.strip(), int(weight)) for name, weight in
                          (item.split(":") for item in text.split(",")))
        except ValueError:
            raise ValueError(f"Splits must look like 'train:8,eval:1,test:1'. Received: {text!r}"
                             ) from None
        return cls(pairs)
