"""Card signing keys on disk: the key that signs new cards, retired keys that still verify, and rotation.

The current key lives at the configured path (``CLUBCARD_CARD_KEY``); every key rotated out is kept as
``card-retired/<key id>.pem`` next to it, because the cards it signed are still in residents' pockets and
a reprint of such a card must carry the very token that was issued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ledger.cards.token import (
    CardKeyring,
    CardSigningKey,
    card_key_pem,
    generate_card_key,
    load_card_key,
    load_or_create_card_key,
)

RETIRED_DIRECTORY_NAME = "card-retired"
DEFAULT_CHECK_INTERVAL_SECONDS = 1.0
log = logging.getLogger("clubcard")

# (inode, modification time in ns, size) of a file or directory, or None when it is absent.
FileSignature = tuple[int, int, int] | None


@dataclasses.dataclass(frozen=True, eq=False)
class CardKeySet:
    """The card key that signs new cards and the retired keys whose cards still verify, by key id."""

    current: CardSigningKey
    retired: Mapping[str, CardSigningKey]
    keyring: CardKeyring = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Build the keyring once: it verifies tokens signed by the current key or any retired one."""
        assert self.current.key_id not in self.retired, "the current key is not also a retired one"
        object.__setattr__(self, "keyring", CardKeyring.of(self.current, *self.retired.values()))

    def signing_key(self, key_id: str) -> CardSigningKey | None:
        """The private key with this id (current or retired), to re-sign a card exactly as issued."""
        if key_id == self.current.key_id:
            return self.current
        return self.retired.get(key_id)


def retired_directory(card_key_path: Path) -> Path:
    """Where retired card keys are kept: ``card-retired/`` beside the current key."""
    return card_key_path.parent / RETIRED_DIRECTORY_NAME


def load_card_keys(card_key_path: Path, *, create_missing: bool) -> CardKeySet:
    """Read the current card key (creating it only when ``create_missing``) and every retired key."""
    if create_missing:
        current, created = load_or_create_card_key(card_key_path)
        if created:
            log.warning("created a new card signing key at %s: back it up", card_key_path)
    else:
        current = load_card_key(card_key_path)
    retired: dict[str, CardSigningKey] = {}
    directory = retired_directory(card_key_path)
    if directory.is_dir():
        for path in sorted(directory.glob("*.pem")):
            key = load_card_key(path)
            if key.key_id != current.key_id:
                retired[key.key_id] = key
    return CardKeySet(current, retired)


def rotate_card_key(card_key_path: Path) -> tuple[CardSigningKey, CardSigningKey]:
    """Retire the current card key (kept so its cards still verify) and put a new one in its place."""
    with _rotation_lock(card_key_path):
        old, _ = load_or_create_card_key(card_key_path)
        directory = retired_directory(card_key_path)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The old key is linked into card-retired/ before the new one replaces it, so at every
        # instant a running server can read both; a key that ever signed a card is never lost.
        with contextlib.suppress(FileExistsError):  # the file is named by key id: it is this key
            os.link(card_key_path, directory / f"{old.key_id}.pem")
        _sync_directory(directory)
        new = generate_card_key()
        _replace_private_file(card_key_path, card_key_pem(new))
    return old, new


@contextlib.contextmanager
def _rotation_lock(card_key_path: Path) -> Iterator[None]:
    """Hold an exclusive lock so two rotations at once cannot lose a key that already signed cards."""
    card_key_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = card_key_path.parent / f".{card_key_path.name}.lock"
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _replace_private_file(path: Path, content: bytes) -> None:
    """Atomically replace ``path`` with ``content`` (mode 0o600): readers see the old or the new file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make a rename or link in ``directory`` durable across a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _signature(path: Path) -> FileSignature:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def files_signature(card_key_path: Path) -> tuple[FileSignature, FileSignature]:
    """What changes when a key is rotated: the current key file and the retired keys' directory."""
    return _signature(card_key_path), _signature(retired_directory(card_key_path))


class CardKeyStore:
    """The card keys of a running service, re-read when the key files change (checked at most once a second).

    ``clubcard keys rotate-card-key`` replaces the key file; each worker notices within a second and signs
    new cards with the new key, with no restart. The check is two stat() calls, never a key read per request.
    """

    def __init__(
        self,
        card_key_path: Path,
        keys: CardKeySet,
        *,
        check_interval_seconds: float = DEFAULT_CHECK_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = card_key_path
        self._keys = keys
        self._signature = files_signature(card_key_path)
        self._interval_seconds = check_interval_seconds
        self._monotonic = monotonic
        self._next_check = monotonic() + check_interval_seconds
        self._lock = threading.Lock()

    @classmethod
    def open(cls, card_key_path: Path, *, create_missing: bool) -> CardKeyStore:
        """Load the keys at ``card_key_path`` (creating the current key only when ``create_missing``)."""
        return cls(card_key_path, load_card_keys(card_key_path, create_missing=create_missing))

    def keys(self) -> CardKeySet:
        """The card keys now: re-read first when the files changed since the last check."""
        if self._monotonic() >= self._next_check:
            self.refresh()
        return self._keys

    def refresh(self) -> CardKeySet:
        """Check the key files now and re-read them if they changed."""
        with self._lock:  # one thread of a gthread worker re-reads; the others keep the current set
            self._next_check = self._monotonic() + self._interval_seconds
            signature = files_signature(self._path)
            if signature == self._signature:
                return self._keys
            try:
                keys = load_card_keys(self._path, create_missing=False)
            except (OSError, ValueError) as error:
                # A key file being written or removed by hand: keep signing with the keys we have.
                log.warning(
                    "card keys at %s could not be re-read (%s); keeping the loaded keys", self._path, error
                )
                return self._keys
            if keys.current.key_id != self._keys.current.key_id:
                log.info("new cards are now signed by card key %s", keys.current.key_id)
            self._keys, self._signature = keys, signature
            return keys
