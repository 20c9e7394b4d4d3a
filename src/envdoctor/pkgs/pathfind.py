"""Finding modules on another interpreter's `sys.path` from here, without starting it.

Why: `find` mode used to start a child of the target for every run (~15-20 ms, most of the
imports check). But finding a module on a path is file-system work that the standard library's
own `FileFinder` does the same way in every CPython 3: given the target's `sys.path`, its
extension-module suffixes (`cpython-312-x86_64-linux-gnu.so` is not ours) and its built-in
module names — all part of the cached inspection — the answer for a module that *is* there is
the target's answer, and nothing of the target's runs.

Only positive answers are trusted. A module not found here may still be found by the target:
a meta-path finder installed by a `.pth` file (setuptools' editable installs), a zip file on
the path, a frozen module, a package that builds its `__path__` at import time. Those names go
to the child as before, which has the last word; `None` means "ask the child".
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any


class PathFinder:
    """One target's path, with a FileFinder (and its directory cache) per entry."""

    def __init__(
        self, sys_path: Iterable[str], extension_suffixes: Iterable[str], builtins: Iterable[str]
    ) -> None:
        from importlib.machinery import (
            BYTECODE_SUFFIXES,
            SOURCE_SUFFIXES,
            ExtensionFileLoader,
            SourceFileLoader,
            SourcelessFileLoader,
        )

        self.path = [p for p in sys_path if p]
        self.builtins = frozenset(builtins)
        self._loaders: list[tuple[Any, list[str]]] = [
            (ExtensionFileLoader, list(extension_suffixes)),
            (SourceFileLoader, list(SOURCE_SUFFIXES)),
            (SourcelessFileLoader, list(BYTECODE_SUFFIXES)),
        ]
        self._finders: dict[str, Any] = {}

    def _finder(self, entry: str) -> Any:
        if entry not in self._finders:
            from importlib.machinery import FileFinder

            self._finders[entry] = (
                FileFinder(entry, *self._loaders) if os.path.isdir(entry) else None
            )
        return self._finders[entry]

    def _search(self, fullname: str, locations: list[str]) -> tuple[Any, list[str]]:
        """(spec with a loader, []) for a module or regular package; (None, portions) for a
        namespace package (portions may be empty: not found)."""
        portions: list[str] = []
        for entry in locations:
            finder = self._finder(entry)
            if finder is None:
                continue
            spec = finder.find_spec(fullname)
            if spec is None:
                continue
            if spec.loader is not None:
                return spec, []
            portions.extend(spec.submodule_search_locations or [])
        return None, portions

    def find(self, name: str) -> str | None:
        """Where `name` is (its origin, "built-in" or "namespace package"), or None when only
        the target itself can tell."""
        parts = name.split(".")
        if len(parts) == 1 and name in self.builtins:
            return "built-in"
        locations = self.path
        origin: str | None = None
        for end in range(1, len(parts) + 1):
            spec, portions = self._search(".".join(parts[:end]), locations)
            if spec is not None:
                origin = spec.origin
                search = spec.submodule_search_locations
                locations = list(search) if search is not None else []
                if end < len(parts) and search is None:
                    return None  # a plain module's "submodule": only its code could make one
            elif portions:
                origin, locations = "namespace package", portions
            else:
                return None
        return origin
