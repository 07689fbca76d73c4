"""Recurrent weights in and out: Keras ``get_weights()`` lists and PyTorch state dicts.

Our cells keep Keras's layout (``kernel [input_dim, G*units]``, ``recurrent_kernel
[units, G*units]``, ``bias``; LSTM gates ``i, f, c, o``; GRU ``z, r, h``), so a Keras
layer's weights are ours as they are. PyTorch's differ:

* matrices are transposed (``weight_ih [G*units, input_dim]``);
* two biases, ``bias_ih`` and ``bias_hh``: an LSTM (or SimpleRNN) adds them, so ours is
  their sum (exported back as ``bias_ih``, with ``bias_hh`` zero: the same outputs); a
  GRU keeps them apart, as Keras's ``reset_after=True`` does in its two bias rows;
* the GRU's gates come as ``r, z, n``, ours as ``z, r, h`` (LSTM ``i, f, g, o`` is our
  ``i, f, c, o``).

``layer`` and ``reverse`` pick one direction of one layer of a stacked or bidirectional
PyTorch module (``weight_ih_l1_reverse``); a Keras ``Bidirectional`` layer's list is the
forward layer's weights, then the backward layer's.

``read_keras_weights`` reads Keras 3's files (``model.save_weights`` ``.weights.h5``, or
the ``.keras`` archive holding one) into ``{layer: get_weights() list}`` with h5py;
``write_keras_weights`` writes such a dict back into a ``.weights.h5`` laid out as a
template file of the same model (the file Keras's ``model.load_weights`` reads).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np

from rnn_attn.checks import argument
from rnn_attn.data.paths import require_file
from rnn_attn.nn import cells as fcells

# Gate order of each layout, each gate named by its Keras letter (PyTorch's LSTM "g" is
# Keras's "c"; its GRU "n" is Keras's "h").
GATE_LAYOUTS = {"keras_lstm": "ifco", "torch_lstm": "ifco", "keras_gru": "zrh", "torch_gru": "rzh"}


def reorder_gates(array: np.ndarray, source: str, target: str, axis: int = -1) -> np.ndarray:
    """``array``'s gate blocks along ``axis`` from the order of layout ``source`` to that
    of ``target`` (names in ``GATE_LAYOUTS``)."""
    axis = argument("axis", axis, int)
    for layout in (source, target):
        if not isinstance(layout, str) or layout not in GATE_LAYOUTS:
            raise ValueError(
                f"unknown gate layout {layout!r}; expected one of {sorted(GATE_LAYOUTS)}"
            )
    order_in, order_out = GATE_LAYOUTS[source], GATE_LAYOUTS[target]
    if sorted(order_in) != sorted(order_out):
        raise ValueError(
            f"gate layouts {source!r} ({order_in}) and {target!r} "
            f"({order_out}) have different gates"
        )
    blocks = np.split(np.asarray(array), len(order_in), axis=axis)
    return np.concatenate([blocks[order_in.index(g)] for g in order_out], axis=axis)


def _expected_shapes(cell: fcells.Cell, input_dim: int) -> dict[str, tuple[int, ...]]:
    """The shapes of the three weights Keras and PyTorch layers have (the cell's
    ``param_shapes``, without a layer-norm gain)."""
    shapes = cell.param_shapes(input_dim)
    return {name: shapes[name] for name in ("kernel", "recurrent_kernel", "bias")}


def _check_shape(name: str, array: np.ndarray, expected: tuple[int, ...], where: str) -> np.ndarray:
    array = np.asarray(array)
    if array.shape != expected:
        raise ValueError(
            f"{where} {name} has shape {array.shape}; expected {expected} for this cell"
        )
    return array


def from_keras(cell: fcells.Cell, weights: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Our params from a Keras recurrent layer's ``get_weights()`` (``[kernel,
    recurrent_kernel, bias]``)."""
    if isinstance(weights, np.ndarray) or len(weights) != 3:
        raise ValueError(
            f"a Keras {type(cell).__name__} has 3 weights (kernel, "
            f"recurrent_kernel, bias); got {len(weights)} arrays"
        )
    kernel = np.asarray(weights[0])
    if kernel.ndim != 2:
        raise ValueError(
            f"Keras kernel has shape {kernel.shape}; expected (input_dim, "
            f"{cell.n_gates * cell.units})"
        )
    shapes = _expected_shapes(cell, kernel.shape[0])
    return {
        name: _check_shape(name, w, shapes[name], "Keras")
        for name, w in zip(shapes, weights, strict=True)
    }


def to_keras(cell: fcells.Cell, params: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Our params as a Keras layer's ``set_weights`` list."""
    names = ("kernel", "recurrent_kernel", "bias")
    missing = [n for n in names if n not in params] if isinstance(params, Mapping) else names
    if missing:
        have = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(
            f"our {type(cell).__name__} params have no {list(missing)} (got {have}); "
            f"expected the dict the cell's init returns"
        )
    shapes = _expected_shapes(cell, np.shape(params["kernel"])[0])
    return [_check_shape(name, params[name], shapes[name], "our") for name in shapes]


def _torch_names(layer: int, reverse: bool) -> dict[str, str]:
    layer = argument("layer", layer, int, minimum=0)
    argument("reverse", reverse, bool)
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    return {name: name + suffix for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _torch_layout(cell: fcells.Cell) -> str:
    if isinstance(cell, fcells.GRUCell):
        if not cell.reset_after:
            raise ValueError(
                "PyTorch's GRU applies the reset gate after the recurrent "
                "matmul; expected a GRUCell with reset_after=True"
            )
        return "torch_gru"
    return "torch_lstm" if isinstance(cell, fcells.LSTMCell) else ""


def from_torch(
    cell: fcells.Cell, state_dict: Mapping[str, object], *, layer: int = 0, reverse: bool = False
) -> dict[str, np.ndarray]:
    """Our params from a PyTorch ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` state dict (tensors
    or arrays; one ``layer`` and direction)."""
    names = _torch_names(layer, reverse)
    missing = [n for n in names.values() if n not in state_dict]
    if missing:
        raise ValueError(
            f"the state dict has no {missing} (it has {sorted(state_dict)}); "
            f"expected PyTorch's names for layer {layer}"
            f"{' reverse' if reverse else ''}"
        )
    w = {
        key: np.asarray(
            state_dict[name].detach().cpu().numpy()
            if hasattr(state_dict[name], "detach")
            else state_dict[name]
        )
        for key, name in names.items()
    }
    width = cell.n_gates * cell.units
    input_dim = w["weight_ih"].shape[-1] if w["weight_ih"].ndim == 2 else -1
    expected = {
        "weight_ih": (width, input_dim),
        "weight_hh": (width, cell.units),
        "bias_ih": (width,),
        "bias_hh": (width,),
    }
    for key in w:
        _check_shape(names[key], w[key], expected[key], "PyTorch")
    layout = _torch_layout(cell)

    def ours(a, axis=-1):
        return reorder_gates(a, layout, "keras_gru", axis) if layout == "torch_gru" else a

    params = {"kernel": ours(w["weight_ih"].T), "recurrent_kernel": ours(w["weight_hh"].T)}
    if layout == "torch_gru":
        params["bias"] = np.stack([ours(w["bias_ih"]), ours(w["bias_hh"])])
    else:
        params["bias"] = w["bias_ih"] + w["bias_hh"]
    return params


def to_torch(
    cell: fcells.Cell, params: Mapping[str, np.ndarray], *, layer: int = 0, reverse: bool = False
) -> dict[str, np.ndarray]:
    """Our params as the PyTorch state-dict entries of one ``layer`` and direction (load
    them with ``torch.from_numpy`` and ``load_state_dict``)."""
    p = {key: np.asarray(value) for key, value in params.items()}
    shapes = _expected_shapes(cell, p["kernel"].shape[0])
    for name in shapes:
        _check_shape(name, p[name], shapes[name], "our")
    layout = _torch_layout(cell)

    def theirs(a, axis=-1):
        return reorder_gates(a, "keras_gru", layout, axis) if layout == "torch_gru" else a

    names = _torch_names(layer, reverse)
    out = {
        names["weight_ih"]: theirs(p["kernel"]).T.copy(),
        names["weight_hh"]: theirs(p["recurrent_kernel"]).T.copy(),
    }
    if layout == "torch_gru":
        out[names["bias_ih"]], out[names["bias_hh"]] = theirs(p["bias"][0]), theirs(p["bias"][1])
    else:
        out[names["bias_ih"]], out[names["bias_hh"]] = p["bias"], np.zeros_like(p["bias"])
    return out


def read_keras_weights(path: str) -> dict[str, list[np.ndarray]]:
    """Every layer's weights in a Keras 3 ``.weights.h5`` or ``.keras`` file, as
    ``{layer path: [arrays in get_weights() order]}``. The paths are the file's: Keras
    names them by layer type, numbered when repeated (``"lstm"``, ``"lstm_1"``), whatever
    ``name=`` the layers had; a recurrent layer's cell variables are its own, and a
    ``Bidirectional``'s directions are ``"bidirectional/forward_layer"`` and
    ``"bidirectional/backward_layer"``."""
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "reading Keras weight files needs h5py (pip install h5py, or the 'compare' extra)"
        ) from e
    require_file(path, "Keras weights file")  # a FIFO or device is refused, not waited on
    source: object = path
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise ValueError(
                    f"{path!r} is a zip without model.weights.h5; expected a .keras file"
                )
            source = io.BytesIO(archive.read("model.weights.h5"))
    try:
        with h5py.File(source, "r") as f:
            return _layers(f)
    except OSError as e:
        raise ValueError(f"{path!r} is not a Keras .weights.h5 or .keras file ({e})") from None


def _var_groups(root) -> dict[str, str]:
    """``{layer path: the h5 path of its vars group}`` of a Keras weights file."""
    out: dict[str, str] = {}

    def visit(name: str, obj) -> None:
        if hasattr(obj, "keys") and name.endswith("/vars") and len(obj):
            out[name[: -len("/vars")].removeprefix("layers/").removesuffix("/cell")] = name

    root.visititems(visit)
    return out


def _layers(root) -> dict[str, list[np.ndarray]]:
    return {
        layer: [np.asarray(root[group][str(i)]) for i in range(len(root[group]))]
        for layer, group in _var_groups(root).items()
    }


def write_keras_weights(
    path: str, layers: Mapping[str, Sequence[np.ndarray]], template: str
) -> None:
    """Writes ``layers`` (``{layer path: get_weights() list}``, as ``read_keras_weights``
    gives) into a new ``.weights.h5`` at ``path``, laid out as ``template`` (a
    ``.weights.h5`` of the same model; its layers not in ``layers`` are copied as they
    are). A layer or array the template does not have, or of another shape, is refused
    naming it and the shapes."""
    import shutil

    import h5py

    require_file(template, "Keras weights template")
    with h5py.File(template, "r") as f:
        groups = _var_groups(f)
        for layer, arrays in layers.items():
            if layer not in groups:
                raise ValueError(f"the template has no layer {layer!r}; it has {sorted(groups)}")
            saved = f[groups[layer]]
            if len(arrays) != len(saved):
                raise ValueError(
                    f"layer {layer!r} has {len(saved)} arrays in the template, got {len(arrays)}"
                )
            for i, array in enumerate(arrays):
                if np.shape(array) != saved[str(i)].shape:
                    raise ValueError(
                        f"layer {layer!r} array {i} has shape "
                        f"{np.shape(array)}; the template's is "
                        f"{saved[str(i)].shape}"
                    )
    shutil.copyfile(template, path)
    with h5py.File(path, "r+") as f:
        for layer, arrays in layers.items():
            for i, array in enumerate(arrays):
                dataset = f[groups[layer]][str(i)]
                dataset[...] = np.asarray(array, dataset.dtype)
