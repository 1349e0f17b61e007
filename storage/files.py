"""Files staff attach to replies, kept on local disk under one directory.

The storage interface has one implementation, `LocalFiles`: S3-compatible storage would be a
second class with the same methods (`save`, `path`), but no S3 stand-in is installable offline
here to test one against, so none is shipped. A file's key is random (unguessable, never the
uploaded name) with the extension of its type; the name staff gave it is kept in the message.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from storage.db import sqlite_file

_KEY = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,5}$")


def default_dir(database_url: str) -> Path:
    """`attachments/` beside the SQLite file; ./attachments for any other database."""
    database = sqlite_file(database_url) if database_url.startswith("sqlite") else None
    if database is None:
        return Path("attachments").resolve()
    return Path(database).resolve().parent / "attachments"


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    path: Path
    size: int


class LocalFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes, extension: str) -> StoredFile:
        """Write `data` under a new random key; written whole (temporary name, then renamed)
        so that a reader never sees half a file."""
        self.root.mkdir(parents=True, exist_ok=True)
        key = f"{secrets.token_hex(16)}.{extension}"
        path = self.root / key
        partial = path.with_name(key + ".part")
        partial.write_bytes(data)
        os.replace(partial, path)
        return StoredFile(key, path, len(data))

    def path(self, key: str) -> Path | None:
        """The file of `key`, if `key` is one of ours (no other path can be named) and
        exists."""
        if not _KEY.match(key):
            return None
        path = self.root / key
        return path if path.is_file() else None
