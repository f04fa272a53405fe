"""Ordering of backend version strings without a dependency on a version library."""

from __future__ import annotations

import re

_PART = re.compile(r"\d+|[A-Za-z]+")
_AFTER_RELEASE = {"post", "p"}


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key: numbers compare numerically, pre-release words (a, b, rc, dev) sort before the release.

    >>> version_key("1.10") > version_key("1.9") and version_key("2.0rc1") < version_key("2.0")
    True
    """
    key: list[tuple[int, int | str]] = []
    for part in _PART.findall(version):
        if part.isdigit():
            key.append((3, int(part)))
        elif part.lower() in _AFTER_RELEASE:
            key.append((2, part.lower()))
        else:
            key.append((0, part.lower()))
    key.append((1, ""))  # the end of a release sorts after its pre-releases and before its patch releases
    return tuple(key)


def is_newer(version: str, than: str | None) -> bool:
    """Whether ``version`` is strictly newer than ``than``; anything is newer than an unknown version."""
    return than is None or version_key(version) > version_key(than)


def newest(versions: list[str]) -> str:
    return max(versions, key=version_key)
