"""Our Keras-layout LSTM in ``jax.experimental.rnn``'s cuDNN weight vector: the layout is
jax's own (``unpack_lstm_weights``), the mapping goes back unchanged, and on the CPU
jax's ``lstm_ref`` on the mapped weights gives our scan's values (1e-5 relative) and
gradients w.r.t. the inputs and the Keras params (1e-4 relative), float32, right-padded.
The cuDNN kernel itself needs a CUDA GPU: ``benchmarks/gpu.py`` checks it there."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.interop import cudnn
from rnn_attn.nn import cells, recurrent
from tests._tiers import tiered

rnn = pytest.importorskip("jax.experimental.rnn", reason="this JAX has no jax.experimental.rnn")

BATCH, TIME, FEATURES, UNITS = 4, 7, 3, 5
LENGTHS = np.array([7, 3, 1, 5], np.int32)  # right padding, a full and a one-step sequence
CELL = cells.LSTMCell(UNITS)
VALUES, GRADIENTS = 1e-5, 1e-4  # the bounds, relative to the reference's largest value


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def keras_params(key, input_dim: int) -> dict:
    """Our init, its biases given values (zeros and ones at init would hide a bias's
    place)."""
    k1, k2 = jax.random.split(key)
    params = CELL.init(k1, input_dim)
    bias = params["bias"] + 0.5 * jax.random.normal(k2, params["bias"].shape, jnp.float32)
    return params | {"bias": bias}


def make_layers(num_layers: int, bidirectional: bool, seed: int = 0) -> list:
    keys = iter(jax.random.split(jax.random.key(seed), 2 * num_layers))
    width = [FEATURES] + [UNITS * (2 if bidirectional else 1)] * (num_layers - 1)
    if not bidirectional:
        return [keras_params(next(keys), w) for w in width]
    return [
        {"forward": keras_params(next(keys), w), "backward": keras_params(next(keys), w)}
        for w in width
    ]


def inputs() -> jax.Array:
    x = np.random.default_rng(0).normal(size=(BATCH, TIME, FEATURES)).astype(np.float32)
    x[np.arange(TIME)[None, :] >= LENGTHS[:, None]] = 7.0  # padding that must not matter
    return jnp.asarray(x)


@pytest.mark.parametrize(
    "num_layers, bidirectional", [(1, False), (2, False), (1, True), (2, True)]
)
def test_the_packing_is_jax_s_layout(num_layers, bidirectional):
    layers = make_layers(num_layers, bidirectional)
    flat = cudnn.to_cudnn(CELL, layers, bidirectional=bidirectional)
    n = rnn.get_num_params_in_lstm(FEATURES, UNITS, num_layers, bidirectional)
    assert flat.shape == (n,) == (cudnn.num_params(FEATURES, UNITS, num_layers, bidirectional),)
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(
        flat, FEATURES, UNITS, num_layers, bidirectional
    )
    pseudo = [
        d
        for layer in layers
        for d in ((layer["forward"], layer["backward"]) if bidirectional else (layer,))
    ]
    for p, params in enumerate(pseudo):
        np.testing.assert_array_equal(w_ih[p], params["kernel"].T)  # gates i, f, c/g, o alike
        np.testing.assert_array_equal(w_hh[p], params["recurrent_kernel"].T)
        np.testing.assert_array_equal(b_ih[p], params["bias"])
        np.testing.assert_array_equal(b_hh[p], np.zeros(4 * UNITS))


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_the_mapping_goes_back(num_layers, bidirectional):
    layers = make_layers(num_layers, bidirectional)
    flat = cudnn.to_cudnn(CELL, layers, bidirectional=bidirectional)
    back = cudnn.from_cudnn(
        CELL, flat, FEATURES, num_layers=num_layers, bidirectional=bidirectional
    )
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(layers), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cudnn.to_cudnn(CELL, back, bidirectional=bidirectional), flat)


def test_a_cudnn_vector_with_two_biases_maps_to_the_same_lstm():
    """Any cuDNN vector (two nonzero biases per gate) -> ours (their sum) -> cuDNN: the
    matrices unchanged, and ``lstm_ref`` computes the same on both vectors."""
    flat = rnn.init_lstm_weight(jax.random.key(3), FEATURES, UNITS, 1, False)
    layers = cudnn.from_cudnn(CELL, flat, FEATURES)
    again = cudnn.to_cudnn(CELL, layers)
    theirs, ours = (cudnn.unpack(w, FEATURES, UNITS) for w in (flat, again))
    for name in ("W_ih", "W_hh"):
        np.testing.assert_array_equal(ours[name, 0], theirs[name, 0])
    np.testing.assert_allclose(ours["b_ih", 0], theirs["b_ih", 0] + theirs["b_hh", 0])

    def run(w):
        h0 = jnp.zeros((1, BATCH, UNITS))
        blocks = rnn.unpack_lstm_weights(w, FEATURES, UNITS, 1, False)
        return rnn.lstm_ref(
            inputs(), h0, h0, *blocks, jnp.asarray(LENGTHS), FEATURES, UNITS, 1, 0.0, False
        )

    for a, b in zip(run(again), run(flat), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def _ours(params, x):
    y, (h, c) = recurrent.rnn(CELL, params, x, lengths=jnp.asarray(LENGTHS))
    return y, h, c


def _reference(params, x):
    y, (h, c) = cudnn.cudnn_lstm(CELL, [params], x, LENGTHS, implementation="reference")
    return y, h[0], c[0]


def test_lstm_ref_on_the_mapped_weights_is_our_scan_values_and_gradients():
    params, x = make_layers(1, False)[0], inputs()
    valid = (np.arange(TIME)[None, :] < LENGTHS[:, None])[..., None]
    got, want = _reference(params, x), _ours(params, x)
    assert relative(np.where(valid, got[0], 0), want[0]) <= VALUES  # valid steps only
    for a, b in zip(got[1:], want[1:], strict=True):
        assert relative(a, b) <= VALUES
    k = jax.random.split(jax.random.key(7), 3)
    cot = [
        jax.random.normal(k[0], want[0].shape),
        *(jax.random.normal(kk, want[1].shape) for kk in k[1:]),
    ]

    def loss(run):
        def f(p, x):
            y, h, c = run(p, x)
            return (jnp.where(valid, y, 0) * cot[0]).sum() + (h * cot[1]).sum() + (c * cot[2]).sum()

        return jax.jit(jax.grad(f, argnums=(0, 1)))(params, x)

    (gp_ref, gx_ref), (gp_ours, gx_ours) = loss(_reference), loss(_ours)
    assert relative(gx_ref * valid, gx_ours * valid) <= GRADIENTS
    assert np.abs(np.asarray(gx_ours)[~valid[..., 0]]).max() == 0.0  # padding: no gradient
    for name in ("kernel", "recurrent_kernel", "bias"):
        assert relative(gp_ref[name], gp_ours[name]) <= GRADIENTS, name


def test_a_wrong_gate_order_is_seen():
    """The comparison can fail: a mapping that put Keras's gates in another order
    (forget and output swapped) is off by far more than the bounds."""
    params, x = make_layers(1, False)[0], inputs()
    swapped = {}
    for name, value in params.items():  # i, f, c, o -> i, o, c, f
        i, f, c, o = np.split(np.asarray(value), 4, axis=-1)
        swapped[name] = np.concatenate([i, o, c, f], axis=-1)
    assert relative(_reference(swapped, x)[1], _ours(params, x)[1]) > 1e-2


@pytest.mark.parametrize(
    "num_layers, bidirectional",
    tiered([(1, False), (2, False), (1, True), (2, True)], default=[(2, True)]),
)
def test_stacked_and_bidirectional_layers_compare_within_the_bounds(num_layers, bidirectional):
    layers = make_layers(num_layers, bidirectional, seed=1)
    diffs = cudnn.compare(
        CELL, layers, inputs(), LENGTHS, bidirectional=bidirectional, implementation="reference"
    )
    assert set(diffs) == {"outputs", "h_n", "c_n", "grad_inputs", "grad_params"}
    for name, value in diffs.items():
        assert value <= (GRADIENTS if name.startswith("grad") else VALUES), (name, value)


def test_auto_takes_the_reference_off_a_cuda_gpu():
    if jax.devices()[0].platform == "gpu":
        pytest.skip("a GPU: auto takes cuDNN")
    assert not cudnn.on_cuda()
    a = cudnn.cudnn_lstm(CELL, make_layers(1, False), inputs(), LENGTHS)
    b = cudnn.cudnn_lstm(CELL, make_layers(1, False), inputs(), LENGTHS, implementation="reference")
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "cell, match",
    [
        (cells.GRUCell(UNITS), "LSTM; got a GRUCell"),
        (cells.LSTMCell(UNITS, recurrent_activation="hard_sigmoid"), "recurrent_activation"),
        (cells.LSTMCell(UNITS, layer_norm=True), "layer_norm"),
    ],
)
def test_cells_cudnn_does_not_compute_are_refused(cell, match):
    with pytest.raises(ValueError, match=match):
        cudnn.to_cudnn(cell, make_layers(1, False))


def test_bad_weights_lengths_and_choices_are_refused():
    layers = make_layers(1, False)
    with pytest.raises(ValueError, match=r"expected \(200,\)"):
        cudnn.from_cudnn(CELL, jnp.zeros(139), FEATURES)
    with pytest.raises(ValueError, match="layer 0 has"):
        cudnn.to_cudnn(CELL, layers, bidirectional=True)
    with pytest.raises(ValueError, match="layer 1"):  # layer 1 reads 5 features, not 3
        cudnn.to_cudnn(CELL, [layers[0], layers[0]])
    with pytest.raises(ValueError, match=r"lie in \[1, 7\]"):
        cudnn.cudnn_lstm(CELL, layers, inputs(), np.array([7, 0, 1, 5]))
    with pytest.raises(ValueError, match="unknown implementation"):
        cudnn.cudnn_lstm(CELL, layers, inputs(), LENGTHS, implementation="fast")


class _Client:
    def __init__(self, platform, version):
        self.platform, self.platform_version = platform, version


class _Device:
    def __init__(self, platform, client):
        self.platform, self.client = platform, client


@pytest.mark.parametrize(
    "device, cuda",
    [
        (_Device("gpu", _Client("cuda", "cuda 12080")), True),
        (_Device("gpu", _Client("rocm", "rocm 60300")), False),  # MIOpen's gate order
        (_Device("cpu", _Client("cpu", "cpu")), False),
        (_Device("tpu", _Client("tpu", "PJRT C API")), False),
    ],
)
def test_cudnn_is_taken_on_a_cuda_gpu_only(monkeypatch, device, cuda):
    monkeypatch.setattr(jax, "devices", lambda *a: [device])
    assert cudnn.on_cuda() is cuda


def test_a_precision_this_jax_cannot_take_is_refused(monkeypatch):
    monkeypatch.setattr(cudnn, "takes_precision", lambda: False)
    with pytest.raises(TypeError, match="takes no precision"):
        cudnn.cudnn_lstm(
            CELL,
            make_layers(1, False),
            inputs(),
            LENGTHS,
            implementation="cudnn",
            precision=jax.lax.Precision.HIGHEST,
        )
