"""Blind exports: the five streams under an opaque id, with nothing that names the answer.

``export_blind(bundle, out)`` writes ``out/<blind-id>/`` holding the five stream files
(byte-identical copies, checked against the bundle manifest's sha256) and a neutral
``manifest.json`` (:class:`~rca.eval.models.BlindManifest`: the blind id and, per stream,
file/stream/format/sha256; no counts or sizes, which alone would classify the scenario).
No ``ground_truth.json``, no scenario id, no request (seed, scenario, thresholds), no
generator name, no window.

The blind id is ``blind-`` + the first 16 hex digits of HMAC-SHA256(salt, bundle_id):
a scorer that knows the salt maps a report named after the blind id back to its bundle;
without the salt it is not computable (bundle ids are hashes of requests, so of
scenarios, and must not be recoverable). There is no default salt. It comes from, first
to last:

1. ``salt`` (``--salt``);
2. ``$RCA_BLIND_SALT`` (an empty value counts as unset);
3. the key file ``blind-key.json`` (:class:`~rca.eval.models.BlindKey`) in the directory
   holding the bundle: the suite directory, where the scorer reads and which the system
   under test is never given. ``export_blind`` draws a random salt when there is none
   and creates the key file, exclusively and atomically, so that every later export
   from that directory, and ``score-suite``, use the same salt; of two exports racing
   to create it, both end up with the one that landed first.

The key file is never followed through a symlink, never written into the output
directory (an ``out`` that would contain it is refused) and never replaced: one that is
unreadable, a symlink, or not a valid key is an error (exit 2) naming the file, since
replacing it would orphan every blind id already handed out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from pydantic import ValidationError

from rca.seed import _atomic
from rca.seed.mock_incident_generator import ALL_STREAM_FILES, MANIFEST_FILE, Manifest

from .models import BlindArtifact, BlindKey, BlindManifest
from .scoring import BundleError, EvalInputError

SALT_ENV = "RCA_BLIND_SALT"
KEY_FILE = "blind-key.json"
SALT_BYTES = 16  # a drawn salt: 128 random bits, as hex


def blind_id(bundle_id: str, salt: str) -> str:
    digest = hmac.new(salt.encode(), bundle_id.encode(), hashlib.sha256).hexdigest()
    return f"blind-{digest[:16]}"


def key_dir(bundle_dir: str | Path) -> Path:
    """The directory whose key file salts ``bundle_dir``'s blind id: its parent."""
    return Path(os.path.abspath(bundle_dir)).parent


def _key_error(path: Path, problem: str) -> EvalInputError:
    return EvalInputError(
        str(path),
        f"{problem}; fix or remove it (blind ids already handed out then no longer map "
        f"back), or pass --salt or ${SALT_ENV}",
    )


def _read_key_at(dir_fd: int, path: Path) -> str | None:
    try:
        data = _atomic.read_regular(dir_fd, KEY_FILE)
    except FileNotFoundError:
        return None
    except _atomic.NotRegularFile as exc:
        raise _key_error(path, f"is a {exc.kind}, not a regular file; refused") from None
    except OSError as exc:
        raise _key_error(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return BlindKey.model_validate_json(data).salt
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise _key_error(path, f"not a blind key file: {loc}: {err['msg']}") from None


def _open_key_dir(directory: Path) -> int:
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise EvalInputError(str(directory), f"cannot open: {exc.strerror or exc}") from None


def read_key(directory: str | Path) -> str | None:
    """The salt in ``directory``'s key file; None if there is none."""
    directory = Path(directory)
    dir_fd = _open_key_dir(directory)
    try:
        return _read_key_at(dir_fd, directory / KEY_FILE)
    finally:
        os.close(dir_fd)


def ensure_key(directory: str | Path) -> str:
    """The salt in ``directory``'s key file, drawn and written first if there is none."""
    directory = Path(directory)
    path = directory / KEY_FILE
    dir_fd = _open_key_dir(directory)
    try:
        salt = _read_key_at(dir_fd, path)
        if salt is not None:
            return salt
        text = BlindKey(salt=secrets.token_hex(SALT_BYTES)).model_dump_json(indent=2) + "\n"
        try:
            partial = _atomic.create_partial(dir_fd, KEY_FILE, directory=False)
            try:
                os.fchmod(partial.fd, 0o600)  # a secret: for the scorer's user only
                with os.fdopen(os.dup(partial.fd), "wb") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
                # Exclusive: never replaces a key (or a link) another export put there.
                _atomic.rename_noreplace(dir_fd, partial.name, KEY_FILE)
            except FileExistsError:
                partial.discard()
            except BaseException:
                partial.discard()
                raise
            finally:
                partial.close()
        except OSError as exc:
            raise EvalInputError(
                str(path), f"cannot create: {exc.strerror or exc}; pass --salt or ${SALT_ENV}"
            ) from None
        # Ours, or the one a concurrent export created first: read back what landed.
        salt = _read_key_at(dir_fd, path)
        if salt is None:
            raise EvalInputError(str(path), "removed while being created; run again")
        return salt
    finally:
        os.close(dir_fd)


def given_salt(salt: str | None) -> str | None:
    """``salt``, else ``$RCA_BLIND_SALT``, else None; an empty ``salt`` is refused."""
    if salt is not None:
        if not salt:
            raise EvalInputError("--salt", "must not be empty")
        return salt
    return os.environ.get(SALT_ENV) or None


def resolve_salt(bundle_dir: str | Path, salt: str | None = None, *, create: bool) -> str | None:
    """The salt of ``bundle_dir``'s blind id: ``salt`` > ``$RCA_BLIND_SALT`` > the key
    file beside the bundle (drawn and written when ``create``, else None without one)."""
    given = given_salt(salt)
    if given is not None:
        return given
    where = key_dir(bundle_dir)
    return ensure_key(where) if create else read_key(where)


def read_manifest(bundle: Path) -> Manifest:
    path = bundle / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{bundle}: no {MANIFEST_FILE}")
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise BundleError(f"{path}: invalid at {loc}: {err['msg']}") from None


def blind_manifest(manifest: Manifest, salt: str) -> BlindManifest:
    by_file = {a.file: a for a in manifest.artifacts}
    files = [ALL_STREAM_FILES[s] for s in manifest.request.streams()]
    missing = [f for f in files if f not in by_file]
    if missing:
        raise BundleError(f"manifest lists no {', '.join(missing)}")
    kept = set(BlindArtifact.model_fields)
    return BlindManifest(
        bundle_id=blind_id(manifest.bundle_id, salt),
        artifacts=[
            BlindArtifact.model_validate(by_file[f].model_dump(include=kept)) for f in files
        ],
    )


def _refuse_out_holding_key(out: Path, key: Path) -> None:
    """Whoever is given ``out`` must not find the key in it (or below it)."""
    real_out = os.path.realpath(out)
    real_key = os.path.join(os.path.realpath(key.parent), key.name)  # the name, not a link's target
    if os.path.commonpath([real_out, real_key]) == real_out:
        raise EvalInputError(
            "OUT",
            f"{out} would contain the blind key {key}: export outside the suite directory",
        )


def export_blind(bundle_dir: str | Path, out_dir: str | Path, salt: str | None = None) -> Path:
    """Write the blind copy of a bundle under ``out_dir`` and return its directory.

    ``salt`` None: ``$RCA_BLIND_SALT``, else the key file beside the bundle (created if
    missing; see the module docstring)."""
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: no such bundle directory")
    manifest = read_manifest(bundle)
    out = Path(out_dir)
    given = given_salt(salt)
    if given is None:
        _refuse_out_holding_key(out, key_dir(bundle) / KEY_FILE)
        given = ensure_key(key_dir(bundle))
    blind = blind_manifest(manifest, given)
    final = out / blind.bundle_id
    # The generator's own staging (rca.seed._atomic): a random, exclusively created and
    # locked partial directory, swapped in at once; no planted symlink is ever followed,
    # neither in the bundle read nor in the directory written.
    try:
        src_fd = os.open(bundle, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise BundleError(f"{bundle}: cannot open: {exc.strerror or exc}") from None
    try:
        out_fd = _atomic.open_dir(out)
        try:
            _atomic.check_directory_target(out_fd, final.name)
            partial = _atomic.create_partial(out_fd, final.name, directory=True)
            try:
                for art in blind.artifacts:
                    try:
                        data = _atomic.read_regular(src_fd, art.file)
                    except FileNotFoundError:
                        raise BundleError(f"{bundle / art.file}: missing") from None
                    except _atomic.NotRegularFile as exc:
                        raise BundleError(f"{bundle / art.file}: {exc}") from None
                    if hashlib.sha256(data).hexdigest() != art.sha256:
                        raise BundleError(
                            f"{bundle / art.file}: sha256 differs from the manifest "
                            "(bundle modified?)"
                        )
                    with _atomic.new_file(partial.fd, art.file) as f:
                        f.write(data)
                text = blind.model_dump_json(indent=2) + "\n"
                with _atomic.new_file(partial.fd, MANIFEST_FILE) as f:
                    f.write(text.encode("utf-8"))
                _atomic.install_dir(partial, final.name)
            except BaseException:
                partial.discard()
                raise
            finally:
                partial.close()
        finally:
            os.close(out_fd)
    except _atomic.NotADirectoryTarget as exc:
        raise EvalInputError("OUT", f"{final} exists and is not a directory ({exc.kind})") from None
    except OSError as exc:
        raise EvalInputError("OUT", f"cannot write {final}: {exc.strerror or exc}") from None
    finally:
        os.close(src_fd)
    return final
