"""The Ed25519 keys that sign audit checkpoints, kept outside the metadata database.

Someone who can rewrite the database can rebuild a consistent hash chain, or cut its newest
events off; they cannot forge a checkpoint signed by a key they do not hold. The key lives in
the workspace's ``keys/`` directory (mode 0600) or wherever ``GP_AUDIT_KEY`` points.

Nothing here creates a key as a side effect of reading one: a missing key is an error, because
a key made silently would let whoever deleted the old one sign a truncated trail.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from goldenpath.core.atomic import write_atomically
from goldenpath.core.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    # cryptography (~30 ms to import) loads in the functions that sign, verify or read a key:
    # key_path() and the message builders serve commands that never do.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )


def key_path(home: Path) -> Path:
    """The audit signing key: ``GP_AUDIT_KEY``, else ``<workspace>/keys/audit-ed25519.pem``."""
    explicit = os.environ.get("GP_AUDIT_KEY")
    return Path(explicit) if explicit else home / "keys" / "audit-ed25519.pem"


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path``; :class:`NotFound` if there is none."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            f"the audit signing key {path} is missing",
            hint="restore it from a backup (check GP_AUDIT_KEY), or if it is lost for good: "
            "gp audit rotate-key --old-key-lost",
        ) from None
    except OSError as exc:
        raise InvalidInput(f"the audit signing key {path} cannot be read: {exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"the audit signing key {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"the audit signing key {path} is not an Ed25519 key")
    return key


def write_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` to ``path`` (0600, atomically: a reader sees the old key or the new)."""
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(path, pem, mode=0o600)
    except OSError as exc:
        raise InvalidInput(
            f"cannot write the audit signing key {path}: {exc.strerror or exc}",
            hint="check GP_AUDIT_KEY and the permissions of its directory",
        ) from None


def public_hex(public: Ed25519PublicKey) -> str:
    """A public key's raw 32 bytes, hex."""
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_from_hex(text: str) -> Ed25519PublicKey:
    """The public key whose raw bytes are ``text`` (hex); :class:`InvalidInput` if it is not."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except (ValueError, TypeError):
        raise InvalidInput(f"{str(text)[:80]!r} is not an Ed25519 public key (hex)") from None


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the sha256 of its raw bytes, hex."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def checkpoint_message(seq: int, count: int, head_hash: str, at: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    return f"goldenpath-audit-checkpoint|{seq}|{count}|{head_hash}|{at}".encode()


def endorsement_message(new_key_id: str, new_public_hex: str, at: str) -> bytes:
    """The bytes the retiring key signs to vouch for its successor (``gp audit rotate-key``)."""
    return f"goldenpath-audit-key|{new_key_id}|{new_public_hex}|{at}".encode()


def signature_digest(signature_hex: str) -> str:
    """A checkpoint's name in the next checkpoint: sha256 of its signature, hex."""
    return hashlib.sha256(signature_hex.encode()).hexdigest()


def signature_valid(public: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    """Whether ``signature_hex`` is ``public``'s signature of ``message``."""
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
