"""digest: render a monthly research digest from one YAML file per issue."""

from __future__ import annotations

import logging

# The library logs (retries, skipped entries) and never prints; without this, Python's
# last-resort handler would write its warnings to the editor's terminal.
logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> str:
    # Looked up on demand: importlib.metadata costs ~25 ms, too much for every `digest` start.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("digest")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0"
    raise AttributeError(name)
