"""What a real ONNX export declares, read once at load, and running batches through it.

Public exports differ in ways a hard-coded reader breaks on: WD v2 taggers fix the batch at 1,
optimum's CLIP exports name every axis (`[batch_size, num_channels, height, width]`), camie and
pixai are NCHW while WD is NHWC, CLIP encoders return `last_hidden_state` before `image_embeds`.
Everything here is decided from the session's own signature, so a model either fits at load or
fails there with one message, never per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from image_annotator_lib.exceptions import ModelLoadError
from image_annotator_lib.local.preprocessing import Layout
from image_annotator_lib.local.session_cache import session_provider

Dim = int | str | None
_DTYPES = {"tensor(float)": np.dtype(np.float32), "tensor(float16)": np.dtype(np.float16)}
CPU_PROVIDER = "CPUExecutionProvider"


@dataclass(frozen=True)
class ImageInput:
    name: str
    layout: Layout
    size: int
    batch: int | None  # the batch size the export fixes, None when free
    dtype: np.dtype


def _is_channel_axis(dim: Dim) -> bool:
    return dim == 3 or (isinstance(dim, str) and "channel" in dim.lower())


def _fixed(dim: Dim) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def guess_layout(shape: Sequence[Dim]) -> Layout | None:
    """NCHW or NHWC from numeric or symbolic axes; None when the shape does not say."""
    first, last = _is_channel_axis(shape[1]), _is_channel_axis(shape[3])
    if first != last:
        return "NCHW" if first else "NHWC"
    spatial_last = _fixed(shape[2]) is not None and shape[2] == shape[3]
    spatial_first = _fixed(shape[1]) is not None and shape[1] == shape[2]
    if spatial_last != spatial_first:
        return "NCHW" if spatial_last else "NHWC"
    return None


def read_image_input(
    session: ort.InferenceSession,
    model_name: str,
    *,
    layout: str | None = None,
    input_size: int | None = None,
    default_size: int,
) -> ImageInput:
    """The image input's layout, size and batch. A size the export fixes wins over `input_size`
    (which only fills symbolic axes); `layout` is needed only where the axes do not tell."""
    model_input = session.get_inputs()[0]
    shape = list(model_input.shape)
    if len(shape) != 4:
        raise ModelLoadError(
            f"model {model_name!r}: expected a 4-D image input, got {model_input.name} {shape}"
        )
    if layout is not None and layout not in ("NCHW", "NHWC"):
        raise ModelLoadError(f"model {model_name!r}: layout = {layout!r}; use NCHW or NHWC")
    chosen = layout or guess_layout(shape)
    if chosen is None:
        raise ModelLoadError(
            f"model {model_name!r}: cannot tell the channel axis of input {model_input.name} {shape}; "
            'set layout = "NCHW" or "NHWC" in its entry'
        )
    height, width = (shape[2], shape[3]) if chosen == "NCHW" else (shape[1], shape[2])
    fixed_h, fixed_w = _fixed(height), _fixed(width)
    if fixed_h is not None and fixed_w is not None and fixed_h != fixed_w:
        raise ModelLoadError(f"model {model_name!r}: non-square input {fixed_h}x{fixed_w} is not supported")
    size = fixed_h or fixed_w or input_size or default_size
    dtype = _DTYPES.get(model_input.type)
    if dtype is None:
        raise ModelLoadError(f"model {model_name!r}: input type {model_input.type} is not a float image")
    return ImageInput(model_input.name, chosen, int(size), _fixed(shape[0]), dtype)  # type: ignore[arg-type]


def describe_outputs(session: ort.InferenceSession) -> str:
    return ", ".join(f"{o.name} {list(o.shape)}" for o in session.get_outputs())


def select_output(
    session: ort.InferenceSession,
    model_name: str,
    *,
    name: str | None = None,
    width: int | None = None,
    prefer: Sequence[str] = (),
) -> tuple[str, int | None]:
    """The output to read and its declared width: the one named, else a 2-D one whose width is
    `width` (the label count, or the head's input), else a preferred name, else the only 2-D one.
    The width is None when the export leaves it symbolic; callers then check it on a probe run."""
    outputs = session.get_outputs()
    if name:
        for output in outputs:
            if output.name == name:
                return name, _fixed(output.shape[-1]) if output.shape else None
        raise ModelLoadError(
            f"model {model_name!r}: no output named {name!r} (outputs: {describe_outputs(session)})"
        )
    two_d = [o for o in outputs if len(o.shape) == 2]
    if width is not None:
        matching = [o for o in two_d if o.shape[1] == width]
        preferred = [o for o in matching if o.name in prefer]
        if preferred or len(matching) == 1:
            return (preferred or matching)[0].name, width
        if matching:
            names = ", ".join(o.name for o in matching)
            raise ModelLoadError(
                f"model {model_name!r}: outputs {names} all have {width} columns; set output_name"
            )
    for wanted in prefer:
        for output in two_d:
            if output.name == wanted:
                return output.name, _fixed(output.shape[1])
    free = [o for o in two_d if _fixed(o.shape[1]) is None]
    if len(two_d) == 1 or (width is not None and len(free) == 1):
        chosen = two_d[0] if len(two_d) == 1 else free[0]
        return chosen.name, _fixed(chosen.shape[1])
    expected = f" with {width} columns" if width is not None else ""
    raise ModelLoadError(
        f"model {model_name!r}: no 2-D output{expected} (outputs: {describe_outputs(session)}); set output_name"
    )


class SessionRunner:
    """Runs preprocessed batches through one session: in chunks of the export's fixed batch (the
    last chunk zero-padded to it), and through I/O binding on a GPU provider so inputs are copied
    once and outputs land straight in host buffers."""

    def __init__(
        self,
        session: ort.InferenceSession,
        image_input: ImageInput,
        output_names: Sequence[str],
        *,
        chunk_size: int | None = None,
        io_binding: bool | None = None,
    ) -> None:
        self.session = session
        self.input = image_input
        self.output_names = list(output_names)
        self.provider = session_provider(session)
        self.chunk_size = image_input.batch or chunk_size
        self.io_binding = self.provider != CPU_PROVIDER if io_binding is None else io_binding

    def probe(self) -> list[np.ndarray]:
        """One zero image through the model: the real output shapes where the export is symbolic."""
        size, layout = self.input.size, self.input.layout
        shape = (1, 3, size, size) if layout == "NCHW" else (1, size, size, 3)
        return self.run(np.zeros(shape, dtype=self.input.dtype))

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """The selected outputs for every row of `batch`, in order, as float32."""
        chunk = self.chunk_size or len(batch)
        if len(batch) <= chunk and (self.input.batch is None or len(batch) == self.input.batch):
            return self._run(batch)
        parts: list[list[np.ndarray]] = []
        for start in range(0, len(batch), chunk):
            piece = batch[start : start + chunk]
            rows = len(piece)
            if self.input.batch is not None and rows < self.input.batch:
                padding = np.zeros((self.input.batch - rows, *piece.shape[1:]), dtype=piece.dtype)
                piece = np.concatenate([piece, padding])
            parts.append([output[:rows] for output in self._run(piece)])
        return [np.concatenate([part[i] for part in parts]) for i in range(len(self.output_names))]

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        if not self.io_binding:
            outputs = self.session.run(self.output_names, {self.input.name: batch})
        else:
            binding = self.session.io_binding()
            binding.bind_cpu_input(self.input.name, batch)
            for name in self.output_names:
                binding.bind_output(name, "cpu")
            self.session.run_with_iobinding(binding)
            outputs = binding.copy_outputs_to_cpu()
        return [np.asarray(output, dtype=np.float32) for output in outputs]
