"""The metadata store: one YAML file per arXiv paper under `issues/arxiv/`, written atomically.

One file a paper keeps diffs small and lets `build` read only the papers an issue names. Old-style
ids map onto folders (`physics/0004057` → `issues/arxiv/physics/0004057.yaml`), as on arXiv.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from digest.errors import IssueError, StoreError
from digest.ids import split_version
from digest.records import PaperRecord

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; a new output should get the permissions any new file gets here.
_NEW_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write via a temp file in the same folder and rename: readers see old or new, never half.

    `durable` also fsyncs before the rename, so a power cut cannot leave an empty file: worth
    it for the editor's files and the store, not for outputs that a build can write again.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else _NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def missing_paper_message(arxiv_id: str) -> str:
    return f"paper {arxiv_id} is not in the metadata store; add it with `digest add {arxiv_id}`"


class Store:
    def __init__(self, folder: Path, display_root: Path | None = None) -> None:
        self.folder = folder
        self._display_root = display_root
        self._cache: dict[str, PaperRecord | None] = {}

    def path_for(self, arxiv_id: str) -> Path:
        base, _ = split_version(arxiv_id)
        return self.folder / f"{base}.yaml"

    def _shown(self, path: Path) -> Path:
        if self._display_root is not None:
            with contextlib.suppress(ValueError):
                return path.relative_to(self._display_root)
        return path

    def get(self, arxiv_id: str) -> PaperRecord | None:
        base, _ = split_version(arxiv_id)
        if base not in self._cache:
            self._cache[base] = self._read(self.path_for(base))
        return self._cache[base]

    def require(self, arxiv_id: str) -> PaperRecord:
        record = self.get(arxiv_id)
        if record is None:
            raise StoreError(
                f"paper {arxiv_id} is not in the metadata store ({self._shown(self.path_for(arxiv_id))}); "
                f"add it with `digest add {arxiv_id}`"
            )
        return record

    def __contains__(self, arxiv_id: str) -> bool:
        return self.get(arxiv_id) is not None

    def _read(self, path: Path) -> PaperRecord | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        shown = self._shown(path)
        try:
            data = yaml.load(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise IssueError(shown, line, col, f"broken store record: {exc.problem}; re-fetch it with `digest refresh`") from None
        try:
            return PaperRecord.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise IssueError(shown, 1, 1, f"broken store record: {where}: {err['msg']}; re-fetch it with `digest refresh`") from None

    def put(self, record: PaperRecord) -> Path:
        path = self.path_for(record.id)
        atomic_write(path, dump_record(record).encode("utf-8"))
        self._cache[record.id] = record
        return path

    def put_many(self, records: Iterable[PaperRecord]) -> list[Path]:
        return [self.put(record) for record in records]

    def all_ids(self) -> list[str]:
        """Every stored id, sorted: the store's stable order."""
        ids = []
        for path in self.folder.rglob("*.yaml"):
            ids.append(path.relative_to(self.folder).with_suffix("").as_posix())
        return sorted(ids)

    @contextlib.contextmanager
    def locked(self, timeout: float = 60.0) -> Iterator[None]:
        """Serialise writers (two `digest add` at once) on a lock file beside the records."""
        from filelock import FileLock  # only writers need it

        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / ".lock"), timeout=timeout):
            self._cache.clear()  # another process may have written while we waited
            yield


def dump_record(record: PaperRecord) -> str:
    """Fixed key order, one key a line, no wrapping of long values: stable, readable diffs."""
    data: dict[str, Any] = record.model_dump(mode="json")
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False)
