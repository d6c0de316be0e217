"""The API key of ``zarrscribe serve``: where it is kept, and keeping it private.

The key lives in the user's state folder, never under the base directory: the
server may read every file under the base directory (its stores are external data
there), so a key kept there could be served. A key an older version left in
``<base_dir>/.zarrscribe/server/api_key`` is moved out on first use.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path

from ..writers.model import STATE_DIR
from ._errors import CatalogError

__all__ = ["key_file", "new_api_key", "store_api_key", "stored_api_key"]

OLD_KEY_FILE = Path(STATE_DIR, "server", "api_key")
"""Where versions before 0.1 kept the key, under the base directory (moved out)."""


def _state_home() -> Path:
    """``$XDG_STATE_HOME``, or ``~/.local/state`` (the XDG base directory default)."""
    configured = os.environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(configured):
        return Path(configured)
    return Path.home() / ".local" / "state"


def key_file(base_dir: str | Path) -> Path:
    """Where the API key of the server of ``base_dir`` is kept:
    ``$XDG_STATE_HOME/zarrscribe/servers/<sha256 of the base dir's absolute path>/api_key``
    (``~/.local/state/...`` by default), outside everything the server may read."""
    base = os.fspath(Path(base_dir).resolve())
    digest = hashlib.sha256(base.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return _state_home() / "zarrscribe" / "servers" / digest / "api_key"


def _move_old_key(base_dir: str | Path, path: Path) -> None:
    """Move a key kept under the base directory by an older version to ``path``."""
    old = Path(base_dir).absolute() / OLD_KEY_FILE
    if not old.is_file() or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(old.read_text())
    old.unlink()
    shutil.rmtree(old.parent, ignore_errors=True)  # the old server folder, if it is empty


def stored_api_key(base_dir: str | Path) -> str | None:
    """The API key kept for ``base_dir`` by :func:`store_api_key`, if any (one an older
    version kept under ``base_dir`` is moved to :func:`key_file` first)."""
    path = key_file(base_dir)
    _move_old_key(base_dir, path)
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CatalogError(
            f"API key file {path} is readable by others (mode {mode:o}); "
            f"run 'chmod 600 {path}' or delete it to get a new key"
        )
    key = path.read_text().strip()
    if not key.isalnum():
        raise CatalogError(
            f"API key file {path} holds no usable key (letters and digits only); "
            "delete it to get a new key"
        )
    return key


def new_api_key() -> str:
    """A new random API key (64 hex digits)."""
    return secrets.token_hex(32)


def store_api_key(base_dir: str | Path, key: str) -> Path:
    """Keep ``key`` for ``base_dir`` at :func:`key_file`, readable by its owner only
    (mode 0600, in folders of mode 0700)."""
    path = key_file(base_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path
