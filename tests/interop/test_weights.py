"""Weights in and out: Keras get_weights lists and PyTorch state dicts give our layers
the same outputs, and go back unchanged."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.interop import weights
from rnn_attn.nn import cells, recurrent

BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 5
CELLS = {
    "simple_rnn": cells.SimpleRNNCell(UNITS),
    "lstm": cells.LSTMCell(UNITS),
    "gru": cells.GRUCell(UNITS),
    "gru_reset_before": cells.GRUCell(UNITS, reset_after=False),
}


def _inputs():
    return np.random.default_rng(0).normal(size=(BATCH, TIME, FEATURES)).astype(np.float32)


def _ours(cell, params, x):
    p = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    return np.asarray(recurrent.rnn(cell, p, jnp.asarray(x))[0])


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_keras_layers_weights_give_its_outputs_and_go_back_unchanged(kind):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras is in the 'compare' extra")
    layer = {
        "simple_rnn": lambda: keras.layers.SimpleRNN(UNITS, return_sequences=True),
        "lstm": lambda: keras.layers.LSTM(UNITS, return_sequences=True),
        "gru": lambda: keras.layers.GRU(UNITS, return_sequences=True),
        "gru_reset_before": lambda: keras.layers.GRU(
            UNITS, return_sequences=True, reset_after=False
        ),
    }[kind]()
    x = _inputs()
    expected = np.asarray(layer(x))
    rng = np.random.default_rng(1)  # biases are zeros at init: give them values too
    layer.set_weights([w + 0.1 * rng.normal(size=w.shape) for w in layer.get_weights()])
    expected = np.asarray(layer(x))
    params = weights.from_keras(CELLS[kind], layer.get_weights())
    np.testing.assert_allclose(_ours(CELLS[kind], params, x), expected, rtol=1e-5, atol=1e-5)
    back = weights.to_keras(CELLS[kind], params)
    for ours, theirs in zip(back, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kind, module", [("simple_rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")])
def test_pytorch_modules_weights_give_their_outputs_and_go_back(kind, module):
    torch = pytest.importorskip("torch", reason="PyTorch is in the 'compare' extra")
    torch.manual_seed(0)
    net = getattr(torch.nn, module)(
        FEATURES, UNITS, num_layers=2, batch_first=True, bidirectional=True
    )
    x = _inputs()
    with torch.no_grad():
        expected = net(torch.from_numpy(x))[0].numpy()
    state = net.state_dict()
    cell = CELLS[kind]
    layer0 = {
        "forward": weights.from_torch(cell, state, layer=0),
        "backward": weights.from_torch(cell, state, layer=0, reverse=True),
    }
    layer1 = {
        "forward": weights.from_torch(cell, state, layer=1),
        "backward": weights.from_torch(cell, state, layer=1, reverse=True),
    }

    def as_jax(p):
        return jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), p)

    hidden = recurrent.bidirectional(cell, cell, as_jax(layer0), jnp.asarray(x))[0]
    ours = recurrent.bidirectional(cell, cell, as_jax(layer1), hidden)[0]
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=1e-5, atol=1e-5)
    # Back into a fresh module: the same outputs.
    exported = {}
    for layer, p in ((0, layer0), (1, layer1)):
        exported |= weights.to_torch(cell, p["forward"], layer=layer)
        exported |= weights.to_torch(cell, p["backward"], layer=layer, reverse=True)
    fresh = getattr(torch.nn, module)(
        FEATURES, UNITS, num_layers=2, batch_first=True, bidirectional=True
    )
    fresh.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in exported.items()}
    )
    with torch.no_grad():
        again = fresh(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(again, expected, rtol=1e-5, atol=1e-5)


def test_gate_reordering_goes_back_and_forth():
    blocks = np.arange(12.0).reshape(2, 6)
    torch_order = weights.reorder_gates(blocks, "keras_gru", "torch_gru")
    np.testing.assert_array_equal(torch_order[:, :2], blocks[:, 2:4])  # r first
    np.testing.assert_array_equal(
        weights.reorder_gates(torch_order, "torch_gru", "keras_gru"), blocks
    )


def test_bad_weights_name_the_tensor_and_the_shapes():
    lstm = cells.LSTMCell(UNITS)
    good = [np.zeros((FEATURES, 4 * UNITS)), np.zeros((UNITS, 4 * UNITS)), np.zeros(4 * UNITS)]
    with pytest.raises(ValueError, match=r"has 3 weights .* got 2 arrays"):
        weights.from_keras(lstm, good[:2])
    with pytest.raises(
        ValueError,
        match=r"Keras recurrent_kernel has shape \(5, 12\); "
        r"expected \(5, 20\)",
    ):
        weights.from_keras(lstm, [good[0], np.zeros((UNITS, 12)), good[2]])
    with pytest.raises(ValueError, match=r"Keras bias has shape \(20,\); expected \(2, 15\)"):
        weights.from_keras(
            cells.GRUCell(UNITS), [np.zeros((FEATURES, 15)), np.zeros((UNITS, 15)), np.zeros(20)]
        )
    with pytest.raises(ValueError, match="unknown gate layout 'torch_lstmx'"):
        weights.reorder_gates(good[0], "keras_lstm", "torch_lstmx")
    with pytest.raises(ValueError, match="have different gates"):
        weights.reorder_gates(good[0], "keras_lstm", "torch_gru")
    state = weights.to_torch(
        lstm, dict(zip(("kernel", "recurrent_kernel", "bias"), good, strict=True))
    )
    with pytest.raises(ValueError, match=r"no \['weight_ih_l1'"):
        weights.from_torch(lstm, state, layer=1)
    state["weight_hh_l0"] = np.zeros((4 * UNITS, UNITS + 1))
    with pytest.raises(
        ValueError,
        match=r"PyTorch weight_hh_l0 has shape \(20, 6\); "
        r"expected \(20, 5\)",
    ):
        weights.from_torch(lstm, state)
    with pytest.raises(ValueError, match="expected a GRUCell with reset_after=True"):
        weights.to_torch(
            cells.GRUCell(UNITS, reset_after=False),
            {
                "kernel": np.zeros((FEATURES, 15)),
                "recurrent_kernel": np.zeros((UNITS, 15)),
                "bias": np.zeros(15),
            },
        )


def test_keras_weight_files_read_into_our_params(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras is in the 'compare' extra")
    pytest.importorskip("h5py")
    model = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True)),
            keras.layers.GRU(3),
        ]
    )
    model.save_weights(tmp_path / "m.weights.h5")
    model.save(tmp_path / "m.keras")
    for name in ("m.weights.h5", "m.keras"):
        layers = weights.read_keras_weights(str(tmp_path / name))
        # Keras names the paths by layer type (a second LSTM would be "lstm_1").
        assert set(layers) == {"bidirectional/forward_layer", "bidirectional/backward_layer", "gru"}
        x = _inputs()
        bi = {
            d: weights.from_keras(CELLS["lstm"], layers[f"bidirectional/{d}_layer"])
            for d in ("forward", "backward")
        }
        hidden = recurrent.bidirectional(
            CELLS["lstm"], CELLS["lstm"], jax.tree.map(jnp.asarray, bi), jnp.asarray(x)
        )[0]
        gru = weights.from_keras(cells.GRUCell(3), layers["gru"])
        ours = recurrent.rnn(
            cells.GRUCell(3), jax.tree.map(jnp.asarray, gru), hidden, return_sequences=False
        )[0]
        np.testing.assert_allclose(np.asarray(ours), np.asarray(model(x)), rtol=1e-5, atol=1e-5)
    (tmp_path / "not.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="is not a Keras .weights.h5 or .keras file"):
        weights.read_keras_weights(str(tmp_path / "not.h5"))
    with pytest.raises(FileNotFoundError, match="Keras weights file not found"):
        weights.read_keras_weights(str(tmp_path / "none.h5"))


def test_weights_written_back_load_into_keras(tmp_path):
    """Keras file -> ours (changed) -> a .weights.h5 that Keras's load_weights reads."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras is in the 'compare' extra")
    pytest.importorskip("h5py")

    def build():
        return keras.Sequential([keras.Input((TIME, FEATURES)), keras.layers.LSTM(UNITS)])

    model = build()
    model.save_weights(tmp_path / "m.weights.h5")
    layers = weights.read_keras_weights(str(tmp_path / "m.weights.h5"))
    params = weights.from_keras(CELLS["lstm"], layers["lstm"])
    changed = {k: v * 0.5 for k, v in params.items()}
    weights.write_keras_weights(
        str(tmp_path / "changed.weights.h5"),
        {"lstm": weights.to_keras(CELLS["lstm"], changed)},
        template=str(tmp_path / "m.weights.h5"),
    )
    other = build()
    other.load_weights(tmp_path / "changed.weights.h5")
    x = _inputs()
    np.testing.assert_allclose(
        np.asarray(other(x)), _ours(CELLS["lstm"], changed, x)[:, -1], rtol=1e-5, atol=1e-5
    )
    with pytest.raises(
        ValueError,
        match=r"layer 'lstm' array 1 has shape \(5, 12\); the "
        r"template's is \(5, 20\)",
    ):
        weights.write_keras_weights(
            str(tmp_path / "bad.weights.h5"),
            {"lstm": [layers["lstm"][0], np.zeros((UNITS, 12)), layers["lstm"][2]]},
            template=str(tmp_path / "m.weights.h5"),
        )
    with pytest.raises(ValueError, match="the template has no layer 'gru'"):
        weights.write_keras_weights(
            str(tmp_path / "bad.weights.h5"), {"gru": []}, template=str(tmp_path / "m.weights.h5")
        )
