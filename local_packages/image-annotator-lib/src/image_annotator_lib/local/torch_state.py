"""PyTorch `.pth` state dicts read without torch, and the MLP heads they hold run in numpy.

Since torch 1.6 `torch.save` writes a zip: `<root>/data.pkl` (a pickle of an OrderedDict of
tensors) and `<root>/data/<key>` (each storage's raw little-endian bytes). The pickle may only
name what a state dict is built from: the OrderedDict, torch's tensor-rebuild functions and its
storage types. Anything else (a whole pickled `nn.Module`, arbitrary callables) is refused, so a
downloaded head can never run code.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # widened to float32 below
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class StateDictError(ValueError):
    """The file is not a torch zip state dict of plain tensors."""


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass
class _Storage:
    array: np.ndarray
    bfloat16: bool


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: object
) -> np.ndarray:
    flat = storage.array
    needed = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1 if size else offset + 1
    if needed > flat.size:
        raise StateDictError(f"tensor of shape {size} reaches past its storage ({flat.size} values)")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
    )
    array = np.array(view)  # a copy, contiguous and detached from the zip's bytes
    if storage.bfloat16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _rebuild_parameter(data: np.ndarray, *_: object) -> np.ndarray:
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, read_record: Callable[[str], bytes]) -> None:
        super().__init__(io.BytesIO(data))
        self._read_record = read_record

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise StateDictError(
                f"refusing {module}.{name}: only state dicts of tensors are read (save the model's "
                "state_dict(), not the model)"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise StateDictError(f"unexpected persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise StateDictError(f"unexpected storage type {storage_type!r}")
        dtype = _STORAGE_DTYPES[storage_type.name]
        raw = self._read_record(key)
        if len(raw) < numel * dtype.itemsize:
            raise StateDictError(f"storage {key} holds {len(raw)} bytes, {numel} values expected")
        array = np.frombuffer(raw, dtype=dtype, count=numel)
        return _Storage(array, storage_type.name == "BFloat16Storage")


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Tensor name -> numpy array, in the file's order."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [name for name in names if name.endswith("data.pkl")]
            if not pickles:
                raise StateDictError(f"{path.name} is a zip without data.pkl")
            root = pickles[0][: -len("data.pkl")]
            state = _StateDictUnpickler(
                archive.read(pickles[0]), lambda key: archive.read(f"{root}data/{key}")
            ).load()
    except zipfile.BadZipFile as exc:
        raise StateDictError(
            f"{path.name} is not a zip: only torch >= 1.6 state dicts are read (re-save it with torch.save)"
        ) from exc
    except (KeyError, EOFError, pickle.UnpicklingError, TypeError, ValueError) as exc:
        if isinstance(exc, StateDictError):
            raise
        raise StateDictError(f"{path.name}: {type(exc).__name__}: {exc}") from exc
    if (
        isinstance(state, OrderedDict | dict)
        and "state_dict" in state
        and isinstance(state["state_dict"], dict)
    ):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise StateDictError(f"{path.name} does not hold a flat dict of tensors")
    return cast(dict[str, np.ndarray], dict(state))


@dataclass(frozen=True)
class MlpHead:
    """Linear layers in file order (weights `[out, in]`, as torch stores them), optionally ReLU
    between them and a sigmoid at the end. Dropout has no weights and is a no-op at inference, so
    LAION's `layers.0/2/4/6/7` and waifu's `fc1..fc3` read alike."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    relu: bool = False
    sigmoid: bool = False

    @property
    def input_width(self) -> int:
        return int(self.layers[0][0].shape[1])

    @property
    def shapes(self) -> list[int]:
        return [self.input_width, *(int(w.shape[0]) for w, _ in self.layers)]

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        x: np.ndarray = embedding.astype(np.float32)
        for index, (weight, bias) in enumerate(self.layers):
            x = x @ weight.T + bias
            if self.relu and index < len(self.layers) - 1:
                x = np.maximum(x, np.float32(0.0))
        if self.sigmoid:
            x = np.float32(1.0) / (np.float32(1.0) + np.exp(-x))
        return x


def mlp_from_state_dict(
    state: dict[str, np.ndarray], *, relu: bool = False, sigmoid: bool = False
) -> MlpHead:
    """Pair each `<prefix>.weight` (2-D) with its `<prefix>.bias`, in file order, and check the
    widths chain (each layer's input is the previous layer's output)."""
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    for key, weight in state.items():
        if not key.endswith(".weight"):
            continue
        prefix = key[: -len(".weight")]
        bias = state.get(f"{prefix}.bias")
        if weight.ndim != 2 or bias is None or bias.shape != (weight.shape[0],):
            raise StateDictError(f"{key} {weight.shape} is not a Linear layer with a matching bias")
        if layers and layers[-1][0].shape[0] != weight.shape[1]:
            raise StateDictError(
                f"{key} takes {weight.shape[1]} inputs but the layer before gives {layers[-1][0].shape[0]}"
            )
        layers.append((weight.astype(np.float32), bias.astype(np.float32)))
    if not layers:
        raise StateDictError("no Linear layers (`<name>.weight` + `<name>.bias`) in the state dict")
    return MlpHead(layers, relu=relu, sigmoid=sigmoid)
