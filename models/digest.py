"""SHA-256 digests of a bundle folder's files: recorded when a bundle is registered, checked on load.

A bundle is LightGBM text, JSON and CSV, so reading one runs no code; but a replaced file would
still change what the service decides, silently. The registry records each file's digest next to
the model version when the bundle is registered (``registry.store.register_bundle``), and
``Bundle.load`` compares the folder it is given with them before reading anything: a changed,
missing or added file is refused, naming the file. Digests are of the bytes, so the check needs
no knowledge of the formats.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from rollcure.core.errors import InputError

_CHUNK = 1 << 20


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by its POSIX path relative to the folder."""
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): _file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }


def digest_of(digests: Mapping[str, str]) -> str:
    """One digest for a folder's file digests (the order of the mapping does not matter)."""
    return hashlib.sha256(
        json.dumps(dict(sorted(digests.items())), separators=(",", ":")).encode()
    ).hexdigest()


def check_digests(folder: Path, expected: Mapping[str, str]) -> None:
    """Raise ``InputError`` naming the first file that differs from, lacks or is not in ``expected``."""
    found = folder_digests(folder)
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            problem = "is missing"
        elif name not in expected:
            problem = "was added after registration"
        elif found[name] != expected[name]:
            problem = "differs from the digest recorded at registration"
        else:
            continue
        raise InputError(f"bundle: {name} {problem}; the bundle is refused (tampered or corrupted artifact)")
