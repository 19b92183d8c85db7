"""The Ed25519 key that signs audit checkpoints, kept outside the metadata database.

Someone who can rewrite the database can rebuild a consistent hash chain, or cut its newest
events off; they cannot forge a checkpoint signed by a key they do not hold. The key lives in
the workspace's ``keys/`` directory (mode 0600) or wherever ``GP_AUDIT_KEY`` points.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from goldenpath.core.errors import InvalidInput


def key_path(home: Path) -> Path:
    """The audit signing key: ``GP_AUDIT_KEY``, else ``<workspace>/keys/audit-ed25519.pem``."""
    explicit = os.environ.get("GP_AUDIT_KEY")
    return Path(explicit) if explicit else home / "keys" / "audit-ed25519.pem"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path``, created (0600, atomically) on first use."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"the audit signing key {path} cannot be read: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"the audit signing key {path} is not an Ed25519 key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the sha256 of its raw bytes, hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def checkpoint_message(seq: int, count: int, head_hash: str, at: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    return f"goldenpath-audit-checkpoint|{seq}|{count}|{head_hash}|{at}".encode()


def signature_valid(public: Ed25519PublicKey, signature_hex: str, message: bytes) -> bool:
    """Whether ``signature_hex`` is ``public``'s signature of ``message``."""
    try:
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
