"""Blind exports: the five streams under an opaque id, with nothing that names the answer.

``export_blind(bundle, out)`` writes ``out/<blind-id>/`` holding the five stream files
(byte-identical copies, checked against the bundle manifest's sha256) and a neutral
``manifest.json`` (:class:`~rca.eval.models.BlindManifest`: the blind id and, per stream,
file/stream/format/record_count/line_count/bytes/sha256). No ``ground_truth.json``, no
scenario id, no request (seed, scenario, thresholds), no generator name, no window.

The blind id is ``blind-`` + the first 16 hex digits of
``sha256(salt + "\\0" + bundle_id)``: deterministic, so a scorer that knows the salt can
map a report named after the blind id back to its bundle; opaque to anyone who does not.
The default salt is public - pass your own ``salt`` (``--salt`` / ``RCA_BLIND_SALT``) for
an evaluation where the system under test must not be able to enumerate bundle ids.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from rca.seed import _atomic
from rca.seed.mock_incident_generator import MANIFEST_FILE, STREAM_FILES, STREAMS, Manifest

from .models import BlindManifest
from .scoring import BundleError, EvalInputError

DEFAULT_SALT = "rca-eval-blind-v1"
SALT_ENV = "RCA_BLIND_SALT"


def default_salt() -> str:
    return os.environ.get(SALT_ENV) or DEFAULT_SALT


def blind_id(bundle_id: str, salt: str | None = None) -> str:
    salt = default_salt() if salt is None else salt
    digest = hashlib.sha256(f"{salt}\0{bundle_id}".encode()).hexdigest()
    return f"blind-{digest[:16]}"


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


def blind_manifest(manifest: Manifest, salt: str | None = None) -> BlindManifest:
    by_file = {a.file: a for a in manifest.artifacts}
    missing = [STREAM_FILES[s] for s in STREAMS if STREAM_FILES[s] not in by_file]
    if missing:
        raise BundleError(f"manifest lists no {', '.join(missing)}")
    return BlindManifest(
        bundle_id=blind_id(manifest.bundle_id, salt),
        artifacts=[by_file[STREAM_FILES[s]] for s in STREAMS],
    )


def export_blind(bundle_dir: str | Path, out_dir: str | Path, salt: str | None = None) -> Path:
    """Write the blind copy of a bundle under ``out_dir`` and return its directory."""
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        raise BundleError(f"{bundle}: no such bundle directory")
    blind = blind_manifest(read_manifest(bundle), salt)
    out = Path(out_dir)
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
