"""Reading a frozen options dataclass from a TFX component's `custom_config`."""

from __future__ import annotations

import dataclasses


def from_custom_config(cls, custom: dict | None):
    """`cls(**custom)` for a dataclass `cls`, refusing keys it does not have by name.

    Example:
        >>> @dataclasses.dataclass(frozen=True)
        ... class Options:
        ...     epochs: int = 10
        >>> from_custom_config(Options, {"epochs": 3})
        Options(epochs=3)
        >>> from_custom_config(Options, {"epoch": 3})
        Traceback (most recent call last):
        ...
        ValueError: Unknown custom_config keys ['epoch']. Expected some of ['epochs'].
    """
    custom = dict(custom or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(custom) - known)
    if unknown:
        raise ValueError(f"Unknown custom_config keys {unknown}. Expected some of "
                         f"{sorted(known)}.")
    return cls(**custom)
