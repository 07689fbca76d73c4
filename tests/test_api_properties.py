"""Properties of the Python API: whatever arguments a public function gets, the answer is
either one clear ValueError/TypeError (one line, naming the argument) or a result equal
to a reference path.

Hypothesis draws shapes, dtypes, lengths and masks (holes, left and right padding, NaN in
the padding), token ids, and constructor arguments: valid ones, and integers out of
range, floats, bools, strings, None, lists, numpy scalars where a size, a switch or a
choice is meant. The references: the plain-numpy cells of ``tests/oracles/numpy_rnn.py``
(for ``recurrent.rnn``, ``bidirectional`` and the cells), numpy (attention), plain Python
(``pad_sequences``, ``Tokenizer``), a row computed alone and the unpadded sequence (the
models), the functional layer (the Flax layers).

Examples per property (ten properties): ``RNN_ATTN_API_EXAMPLES`` (default 3,
derandomized); the slow tier (``-m slow``) draws ``RNN_ATTN_API_SLOW_EXAMPLES`` (default
200, so 2,000 in all) per property at random. The default tier's tests take about 14 s of
CPU time (user + sys, the 4 s of imports left out), so their ``--durations`` sum to about
that on idle cores (20 to 40 s measured with the 2 cores shared by other jobs); the
README's ``-n 2`` spreads them over two workers, half of that each. A NaN in the padding
reaches neither an output nor a gradient (the inputs are masked before any arithmetic).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from flax import nnx  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnn_attn.checks import MAX_INT  # noqa: E402
from rnn_attn.data.sequences import pad_sequences  # noqa: E402
from rnn_attn.data.text import KERAS_FILTERS, Tokenizer  # noqa: E402
from rnn_attn.interop import flax_linen, flax_nnx  # noqa: E402
from rnn_attn.models import char_lm, text_classifiers  # noqa: E402
from rnn_attn.nn import attention, cells, recurrent  # noqa: E402
from tests.oracles import numpy_rnn  # noqa: E402

EXAMPLES = int(os.environ.get("RNN_ATTN_API_EXAMPLES", "3"))
SLOW_EXAMPLES = int(os.environ.get("RNN_ATTN_API_SLOW_EXAMPLES", "200"))
KINDS = ("simple_rnn", "lstm", "gru")

# -- values for arguments ------------------------------------------------------------------------

JUNK = st.sampled_from(
    [None, "3", "yes", "", 2.0, 2.5, float("nan"), float("inf"), [1], (2,), b"1", {}]
)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` about seven times in eight, ``bad`` else: most examples reach a result
    (a middle value picks ``bad``: hypothesis favours the ends of a range)."""
    return st.integers(0, 7).flatmap(lambda k: bad if k == 3 else good)


def sizes(lo: int, hi: int) -> st.SearchStrategy:
    """Valid sizes in [lo, hi] (some numpy integers); sometimes 0, negative, past int32,
    a bool or junk."""
    return mostly(
        st.one_of(st.integers(lo, hi), st.integers(lo, hi).map(np.int64)),
        st.one_of(st.sampled_from([0, -1, MAX_INT + 1, 10**20, True, False]), JUNK),
    )


SWITCHES = mostly(
    st.one_of(st.booleans(), st.booleans().map(np.bool_)), st.sampled_from([0, 1, "no", None])
)


def is_size(value, lo: int = 1, hi: int = MAX_INT) -> bool:
    """The plain-Python rule for an integer argument."""
    ok_type = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    return ok_type and lo <= value <= hi


def is_switch(value) -> bool:
    return isinstance(value, bool | np.bool_)


def is_unroll(value) -> bool:
    return is_switch(value) or is_size(value)


REFUSED = [0]  # refusals checked so far (an example may check more than one)


def refused(call, *names: str) -> str:
    """Runs ``call``, which must raise one ValueError/TypeError of one line naming one of
    ``names``; returns the message."""
    REFUSED[0] += 1
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert "\n" not in message.strip(), message
    assert any(name in message for name in names), (names, message)
    return message


def _run(check, strategy, examples: int, derandomize: bool, shrink: bool = True) -> int:
    """Runs ``check`` on ``examples`` drawn from ``strategy``; prints how many examples
    were answered by a result and by a refusal, returns the number run."""
    count, refusals = [0], [0]

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=tuple(Phase) if shrink else (Phase.explicit, Phase.generate),
    )
    @given(strategy)
    def run(example):
        count[0], before = count[0] + 1, REFUSED[0]
        check(example)
        refusals[0] += REFUSED[0] > before

    run()
    results = count[0] - refusals[0]
    print(f"{check.__name__}: {count[0]} examples, {results} results, {refusals[0]} refused")
    return count[0]


# -- reference paths -----------------------------------------------------------------------------


def oracle_rnn(kind, params, x, mask, reverse=False, reset_after=True):
    """``numpy_rnn``'s steps with any mask: ``(outputs in processing order, carry)``."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(x, np.float64)
    batch, steps, _ = x.shape
    units = p["recurrent_kernel"].shape[0]
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    mask = np.ones((batch, steps), bool) if mask is None else np.asarray(mask)
    outputs = np.zeros((batch, steps, units))
    for k, t in enumerate(range(steps - 1, -1, -1) if reverse else range(steps)):
        if kind == "lstm":
            new_h, new_c = numpy_rnn.lstm_step(p, h, c, x[:, t])
        elif kind == "gru":
            new_h, new_c = numpy_rnn.gru_step(p, h, x[:, t], reset_after=reset_after), c
        else:
            new_h, new_c = numpy_rnn.simple_rnn_step(p, h, x[:, t]), c
        valid = mask[:, t, None]
        h, c = np.where(valid, new_h, h), np.where(valid, new_c, c)
        outputs[:, k] = np.where(valid, new_h, 0.0)
    return outputs, ((h, c) if kind == "lstm" else (h,))


def close(got, expected, dtype) -> None:
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-9
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=tol, atol=tol)


@st.composite
def masks(draw, batch: int, steps: int):
    """``(mask or None, lengths or None)``: none, right-padding lengths, left padding or
    any pattern with holes (all-masked rows included)."""
    style = draw(st.sampled_from(["none", "lengths", "left", "holes"]))
    if style == "none":
        return None, None
    lengths = np.array(draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch)))
    if style == "lengths":
        return None, lengths
    if style == "left":
        return np.arange(steps)[None, :] >= (steps - lengths)[:, None], None
    bits = draw(st.lists(st.booleans(), min_size=batch * steps, max_size=batch * steps))
    return np.array(bits).reshape(batch, steps), None


@st.composite
def sequences_case(draw):
    kind = draw(st.sampled_from(KINDS))
    batch, steps = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    features, units = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (scale * rng.normal(size=(batch, steps, features))).astype(dtype)
    mask, lengths = draw(masks(batch, steps))
    reset_after = draw(st.booleans())
    options = {"reset_after": reset_after} if kind == "gru" else {}
    cell = cells.make_cell(kind, units, **options)
    params = cell.init(jax.random.PRNGKey(draw(st.integers(0, 100))), features)
    return dict(kind=kind, cell=cell, params=params, x=x, mask=mask, lengths=lengths, dtype=dtype)


def _mask_of(case) -> np.ndarray | None:
    if case["lengths"] is not None:
        steps = case["x"].shape[1]
        return np.arange(steps)[None, :] < case["lengths"][:, None]
    return case["mask"]


# -- the properties ------------------------------------------------------------------------------


@st.composite
def rnn_case(draw):
    case = draw(sequences_case())
    case["return_sequences"] = draw(SWITCHES)
    case["reverse"] = draw(SWITCHES)
    case["unroll"] = draw(st.one_of(sizes(1, 3), SWITCHES))
    return case


def check_rnn(case) -> None:
    """``recurrent.rnn`` is the numpy oracle, for any mask, direction and unroll."""
    kwargs = {name: case[name] for name in ("return_sequences", "reverse", "unroll")}

    def call():
        return recurrent.rnn(
            case["cell"],
            case["params"],
            case["x"],
            mask=case["mask"],
            lengths=case["lengths"],
            **kwargs,
        )

    bad = [n for n in ("return_sequences", "reverse") if not is_switch(kwargs[n])]
    bad += [] if is_unroll(kwargs["unroll"]) else ["unroll"]
    if bad:
        refused(call, *bad)
        return
    outputs, carry = call()
    expected, final = oracle_rnn(
        case["kind"],
        case["params"],
        case["x"],
        _mask_of(case),
        reverse=bool(kwargs["reverse"]),
        reset_after=getattr(case["cell"], "reset_after", True),
    )
    close(outputs, expected if kwargs["return_sequences"] else final[0], case["dtype"])
    for got, want in zip(carry, final, strict=True):
        close(got, want, case["dtype"])


MERGES = mostly(st.sampled_from(recurrent.MERGE_MODES), st.sampled_from(["avg", "", None, 1]))


@st.composite
def bidirectional_case(draw):
    case = draw(sequences_case())
    case["merge_mode"] = draw(MERGES)
    case["return_sequences"] = draw(SWITCHES)
    # An LSTM over token ids runs on the fused kernel of rnn_attn/nn/fast_lstm.py.
    case["embedded"] = case["kind"] == "lstm" and draw(st.booleans())
    case["backward_params"] = case["cell"].init(jax.random.PRNGKey(7), case["x"].shape[-1])
    return case


def _merged(mode, forward, backward):
    return {
        "concat": lambda: np.concatenate([forward, backward], -1),
        "sum": lambda: forward + backward,
        "mul": lambda: forward * backward,
        "ave": lambda: 0.5 * (forward + backward),
        "none": lambda: (forward, backward),
    }[mode]()


def check_bidirectional(case) -> None:
    """``recurrent.bidirectional`` (generic scan or fused kernel) is two oracle runs, the
    backward one flipped back, merged as Keras merges them."""
    cell, x = case["cell"], case["x"]
    params = {"forward": case["params"], "backward": case["backward_params"]}
    embeddings = None
    if case["embedded"]:
        embeddings = x[0]  # a table of ``time`` rows, read by ids
        x = np.tile(np.arange(x.shape[1]), (x.shape[0], 1)) % embeddings.shape[0]

    def call():
        return recurrent.bidirectional(
            cell,
            cell,
            params,
            x,
            embeddings=embeddings,
            mask=case["mask"],
            lengths=case["lengths"],
            merge_mode=case["merge_mode"],
            return_sequences=case["return_sequences"],
        )

    bad = [] if case["merge_mode"] in recurrent.MERGE_MODES else ["merge mode"]
    bad += [] if is_switch(case["return_sequences"]) else ["return_sequences"]
    if bad:
        refused(call, *bad)
        return
    merged, _ = call()
    features = x if embeddings is None else np.asarray(embeddings)[x]
    reset = getattr(cell, "reset_after", True)
    mask = _mask_of(case)
    y_f, c_f = oracle_rnn(case["kind"], params["forward"], features, mask, False, reset)
    y_b, c_b = oracle_rnn(case["kind"], params["backward"], features, mask, True, reset)
    if case["return_sequences"]:
        y_f, y_b = y_f, y_b[:, ::-1]
    else:
        y_f, y_b = c_f[0], c_b[0]
    expected = _merged(case["merge_mode"], y_f, y_b)
    for got, want in zip(jax.tree.leaves(merged), jax.tree.leaves(expected), strict=True):
        close(got, want, case["dtype"])


def _nan_padded(case):
    """``(inputs with NaN at every masked step, the same with zeros there, the mask)``;
    a case without a mask gets right padding of lengths ``b mod (time + 1)``."""
    mask = _mask_of(case)
    if mask is None:
        batch, steps = case["x"].shape[:2]
        mask = np.arange(steps)[None, :] < (np.arange(batch) % (steps + 1))[:, None]
    padded = [
        np.where(mask[..., None], case["x"], fill).astype(case["dtype"]) for fill in (np.nan, 0.0)
    ]
    return padded[0], padded[1], mask


def check_nan_padding(case) -> None:
    """NaN in the padding never reaches an output or the carry: the outputs and the
    final state are those of zeros in the padding (the generic scan, the fused LSTM)."""
    nan_x, zero_x, mask = _nan_padded(case)
    choice = "fused" if case["kind"] == "lstm" and case["lengths"] is None else "default"
    # The fused LSTM kernel (rnn_attn/nn/fast_lstm.py) too: it masks on its own.
    with recurrent.kernel_choice(choice):
        got = recurrent.rnn(case["cell"], case["params"], nan_x, mask=mask)
        want = recurrent.rnn(case["cell"], case["params"], zero_x, mask=mask)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert np.all(np.isfinite(a))
        close(a, np.asarray(b, np.float64), case["dtype"])


@st.composite
def cell_case(draw):
    kind = draw(mostly(st.sampled_from(KINDS), st.sampled_from(["tree", "", None, ["lstm"]])))
    units = draw(sizes(1, 3))
    options = {}
    names = {
        "lstm": ["layer_norm", "unit_forget_bias"],
        "gru": ["reset_after", "layer_norm"],
        "simple_rnn": ["layer_norm", "residual"],
    }
    pool = names.get(kind, ["layer_norm"]) if isinstance(kind, str) else ["layer_norm"]
    for name in draw(st.lists(st.sampled_from(pool), unique=True)):
        options[name] = draw(SWITCHES)
    if draw(st.booleans()):
        options["activation"] = draw(st.sampled_from(["tanh", "relu", "swish", 3]))
    return dict(
        kind=kind,
        units=units,
        options=options,
        input_dim=draw(sizes(1, 3)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def check_cell(case) -> None:
    """``make_cell`` then ``init`` and one step: the oracle's step (with the default
    activations), or a refusal naming the argument."""
    kind, units, options = case["kind"], case["units"], case["options"]
    bad = [] if isinstance(kind, str) and kind in cells.CELLS else ["cell kind"]
    bad += [] if is_size(units) else ["units"]
    bad += [name for name, v in options.items() if name != "activation" and not is_switch(v)]
    if options.get("activation", "tanh") not in cells.ACTIVATIONS:
        bad.append("activation")
    if not bad and kind == "gru" and options.get("layer_norm"):
        bad.append("layer_norm")
    if bad:
        refused(lambda: cells.make_cell(kind, units, **options), *bad)
        return
    cell = cells.make_cell(kind, units, **options)
    if units > 8:
        return  # valid; too big to run here
    key = jax.random.PRNGKey(case["seed"] % 1000)
    if not is_size(case["input_dim"]):
        refused(lambda: cell.init(key, case["input_dim"]), "input_dim")
        return
    if case["input_dim"] > 8:
        return
    params = cell.init(key, case["input_dim"])
    x = np.random.default_rng(case["seed"]).normal(size=(2, 1, int(case["input_dim"])))
    carry, h = cell(params, cell.initial_carry((2,), jnp.float64), jnp.asarray(x[:, 0]))
    assert h.shape == (2, units) and np.all(np.isfinite(h))
    defaults = options.get("activation", "tanh") == "tanh" and not options.get("layer_norm")
    if defaults and not options.get("residual"):
        expected, _ = oracle_rnn(
            kind, params, x, None, reset_after=cell.__dict__.get("reset_after", True)
        )
        close(h, expected[:, 0], np.float32)


@st.composite
def attention_case(draw):
    batch, steps, width = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 30.0]))
    mask, lengths = draw(masks(batch, steps))
    if lengths is not None:
        mask = np.arange(steps)[None, :] < lengths[:, None]
    return dict(
        scores=scale * rng.normal(size=(batch, steps)),
        mask=mask,
        query=rng.normal(size=(batch, width)),
        keys=rng.normal(size=(batch, steps, width + draw(st.sampled_from([0, 0, 0, 1])))),
        v=rng.normal(size=(width + draw(st.sampled_from([0, 0, 0, -1])),)),
    )


def check_attention(case) -> None:
    """``masked_softmax``, ``dot_scores``, ``additive_scores`` and ``context_vector`` are
    numpy's: masked weights exactly 0, a row with nothing valid all zeros, never NaN;
    widths that do not fit are refused naming them."""
    scores, mask = case["scores"], case["mask"]
    weights = np.asarray(attention.masked_softmax(jnp.asarray(scores), mask))
    m = np.ones_like(scores, bool) if mask is None else mask
    e = np.where(m, np.exp(scores - np.where(m, scores, -np.inf).max(-1, keepdims=True)), 0.0)
    total = e.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, e / np.where(total > 0, total, 1.0), rtol=1e-9, atol=1e-12)
    assert np.all(weights[~m] == 0.0)
    query, keys, v = case["query"], case["keys"], case["v"]
    if keys.shape[-1] != query.shape[-1]:
        refused(lambda: attention.dot_scores(query, keys), "the keys' width")
        refused(lambda: attention.additive_scores(query, keys, v), "keys_proj's width")
        return
    dots = np.einsum("bd,btd->bt", query, keys)
    np.testing.assert_allclose(attention.dot_scores(query, keys), dots, rtol=1e-9)
    if v.shape[0] != query.shape[-1]:
        refused(lambda: attention.additive_scores(query, keys, v), "v's size")
    else:
        energies = np.tanh(query[:, None, :] + keys) @ v
        np.testing.assert_allclose(attention.additive_scores(query, keys, v), energies, rtol=1e-9)
    context = np.einsum("bt,btd->bd", weights, keys)
    np.testing.assert_allclose(attention.context_vector(weights, keys), context, rtol=1e-9)


@st.composite
def decoder_case(draw):
    return dict(
        units=draw(sizes(1, 3)),
        output_dim=draw(sizes(1, 3)),
        kind=draw(mostly(st.sampled_from(attention.ATTENTION_KINDS), st.just("cosine"))),
        input_dim=draw(sizes(1, 3)),
        num_steps=draw(st.one_of(st.none(), sizes(1, 3))),
        batch=draw(st.integers(1, 3)),
        steps=draw(st.integers(1, 4)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def check_decoder(case) -> None:
    """``AttentionDecoder``: a refusal naming the argument, or logits and weights whose
    rows are distributions over the valid steps, a row decoded alone as in the batch."""
    units, out, kind = case["units"], case["output_dim"], case["kind"]
    bad = [n for n in ("units", "output_dim") if not is_size(case[n])]
    bad += [] if kind in attention.ATTENTION_KINDS else ["attention kind"]
    if bad:
        refused(lambda: attention.AttentionDecoder(units, out, attention=kind), *bad)
        return
    decoder = attention.AttentionDecoder(units, out, attention=kind)
    if units > 8 or out > 8:
        return
    key, dim = jax.random.PRNGKey(case["seed"] % 1000), case["input_dim"]
    if not is_size(dim) or (kind == "luong_dot" and dim != units):
        refused(lambda: decoder.init(key, dim), "input_dim", "luong_dot")
        return
    if dim > 8:
        return
    params = decoder.init(key, dim)
    rng = np.random.default_rng(case["seed"])
    encoded = rng.normal(size=(case["batch"], case["steps"], int(dim)))
    mask = rng.random((case["batch"], case["steps"])) < 0.7
    steps = case["num_steps"]
    if steps is not None and not is_size(steps):
        refused(lambda: decoder.apply(params, encoded, num_steps=steps), "num_steps")
        return
    if steps is not None and steps > 8:
        return
    logits, weights = decoder.apply(
        params, encoded, num_steps=steps, mask=mask, return_weights=True
    )
    n = case["steps"] if steps is None else steps
    assert logits.shape == (case["batch"], n, out) and np.all(np.isfinite(logits))
    sums = np.broadcast_to(np.where(mask.any(-1), 1.0, 0.0)[:, None], weights.shape[:-1])
    np.testing.assert_allclose(weights.sum(-1), sums, atol=1e-9)
    assert np.all(np.asarray(weights)[np.broadcast_to(~mask[:, None], weights.shape)] == 0.0)
    row = case["batch"] - 1  # the last row decoded alone (the rows share one program)
    alone = decoder.apply(params, encoded[row:], num_steps=steps, mask=mask[row:])
    np.testing.assert_allclose(alone[0], logits[row], rtol=1e-9, atol=1e-9)


def reference_pad(sequences, maxlen, padding, truncating, value):
    """Keras's ``pad_sequences``, in plain Python."""
    n = maxlen if maxlen is not None else max((len(s) for s in sequences), default=0)
    rows = []
    for s in sequences:
        s = list(s)
        if len(s) > n:
            s = s[len(s) - n :] if truncating == "pre" else s[:n]
        fill = [value] * (n - len(s))
        rows.append(fill + s if padding == "pre" else s + fill)
    return rows


@st.composite
def pad_case(draw):
    values = st.one_of(st.integers(-5, 50), st.sampled_from([2**31 - 1, -(2**31), 2**40]))
    return dict(
        sequences=draw(st.lists(st.lists(values, max_size=6), max_size=5)),
        maxlen=draw(st.one_of(st.none(), sizes(1, 7))),
        padding=draw(mostly(st.sampled_from(["pre", "post"]), st.sampled_from(["middle", None]))),
        truncating=draw(mostly(st.sampled_from(["pre", "post"]), st.just("both"))),
        value=draw(mostly(st.sampled_from([0, -1, 7]), st.sampled_from([0.5, 2**40]))),
        dtype=draw(st.sampled_from(["int32", "int64", "float64"])),
    )


def check_pad(case) -> None:
    """``pad_sequences`` is plain Python's padding, or a refusal naming what is wrong."""
    seqs, maxlen, dtype = case["sequences"], case["maxlen"], case["dtype"]
    pad, trunc, value = case["padding"], case["truncating"], case["value"]

    def call():
        return pad_sequences(seqs, maxlen, dtype, pad, trunc, value)

    info = np.iinfo(dtype) if dtype.startswith("int") else None
    # Stricter than Keras, which converts only the values kept: a value past the dtype
    # anywhere is refused, even one that truncation would drop.
    values = [x for s in seqs for x in s]
    if info is not None and any(not info.min <= x <= info.max for x in values):
        refused(call, "does not fit dtype", "value", "padding", "truncating", "maxlen")
        return
    bad = []
    if info is not None and (value != int(value) or not info.min <= value <= info.max):
        bad.append("value")
    bad += [] if pad in ("pre", "post") else ["padding"]
    bad += [] if trunc in ("pre", "post") else ["truncating"]
    bad += [] if maxlen is None or is_size(maxlen) else ["maxlen"]
    if bad:
        refused(call, *bad)
        return
    n = len(seqs) * (int(maxlen) if maxlen is not None else 1)
    if n > 10**6:
        return  # valid, but too large to build here
    expected = reference_pad(seqs, maxlen, pad, trunc, value)
    got = call()
    assert got.dtype == np.dtype(dtype)
    width = maxlen if maxlen is not None else max((len(s) for s in seqs), default=0)
    assert got.shape == (len(seqs), width)
    assert got.tolist() == expected


WORDS = st.text(alphabet=st.sampled_from(list("abcAB é.,!\t\n'-")), min_size=1, max_size=12)


@st.composite
def tokenizer_case(draw):
    return dict(
        texts=draw(st.lists(WORDS, min_size=1, max_size=5)),
        queries=draw(st.lists(WORDS, max_size=3)),
        num_words=draw(st.one_of(st.none(), sizes(1, 6))),
        oov=draw(mostly(st.sampled_from([None, "<oov>"]), st.just(1))),
        lower=draw(SWITCHES),
    )


def reference_tokens(text, lower):
    text = text.lower() if lower else text
    for c in KERAS_FILTERS:
        text = text.replace(c, " ")
    return [w for w in text.split(" ") if w]


def check_tokenizer(case) -> None:
    """``Tokenizer``: Keras's index (by count, ties by first appearance, the OOV token
    first) and sequences, computed in plain Python; or a refusal naming the argument."""
    num_words, oov, lower = case["num_words"], case["oov"], case["lower"]

    def make():
        return Tokenizer(num_words=num_words, oov_token=oov, lower=lower)

    bad = [] if num_words is None or is_size(num_words) else ["num_words"]
    bad += [] if oov is None or isinstance(oov, str) else ["oov_token"]
    bad += [] if is_switch(lower) else ["lower"]
    if bad:
        refused(make, *bad)
        return
    tok = make().fit_on_texts(case["texts"])
    counts: dict[str, int] = {}
    for text in case["texts"]:
        for w in reference_tokens(text, lower):
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=lambda w: -counts[w])
    if oov is not None:
        ranked = [oov] + [w for w in ranked if w != oov]
    index = {w: i for i, w in enumerate(ranked, start=1)}
    assert tok.word_index == index
    if not index:
        refused(lambda: tok.texts_to_sequences(case["queries"]), "no word index")
        return
    expected = []
    for text in case["queries"]:
        ids = [index.get(w) for w in reference_tokens(text, lower)]
        ids = [i if i is not None and (num_words is None or i < num_words) else None for i in ids]
        expected.append(
            [index[oov] if i is None else i for i in ids] if oov else [i for i in ids if i]
        )
    assert tok.texts_to_sequences(case["queries"]) == expected


@st.composite
def model_case(draw):
    family = draw(st.sampled_from(["recurrent", "recurrent_masked", "bilstm", "char"]))
    vocab = draw(sizes(2, 6))
    batch, steps = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = int(vocab) if is_size(vocab) and vocab <= 6 else 6
    ids = rng.integers(0, top, size=(batch, steps))
    if draw(st.integers(0, 4)) == 0:  # an id out of the vocabulary
        ids[rng.integers(batch), rng.integers(steps)] = draw(st.sampled_from([-1, top, top + 3]))
    return dict(
        family=family,
        vocab=vocab,
        units=draw(sizes(1, 3)),
        cell=draw(st.sampled_from(KINDS)),
        switch=draw(SWITCHES),
        ids=ids,
        pad=draw(st.integers(0, 2)),
        seed=draw(st.integers(0, 1000)),
    )


def _model(case):
    family, vocab, units, switch = case["family"], case["vocab"], case["units"], case["switch"]
    if family == "char":
        return lambda: char_lm.CharRNN(vocab, cell_kind=case["cell"], units=units, unroll=switch)
    if family == "bilstm":
        steps = case["ids"].shape[1] + case["pad"]
        return lambda: text_classifiers.BiLSTMClassifier(
            vocab, 3, units, maxlen=steps, pooling="masked_attention", dropout=0.0
        )
    return lambda: text_classifiers.RecurrentClassifier(
        case["cell"],
        vocab,
        3,
        units,
        reverse=switch,
        mask_padding=family == "recurrent_masked",
    )


def check_model(case) -> None:
    """A model's ``init``/``apply``: a refusal naming the argument or the token ids, or
    logits equal row by row to the batch's; with masked padding, a left-padded review
    gives the logit of the review alone."""
    bad = [] if is_size(case["vocab"], 2) else ["vocab_size"]
    bad += [] if is_size(case["units"]) else ["units"]
    switch_name = "unroll" if case["family"] == "char" else "reverse"
    if case["family"] == "bilstm":
        switch_name = None
    valid_switch = (
        is_unroll(case["switch"]) if case["family"] == "char" else is_switch(case["switch"])
    )
    bad += [] if switch_name is None or valid_switch else [switch_name]
    if bad:
        refused(_model(case), *bad)
        return
    model = _model(case)()
    if case["vocab"] > 6 or case["units"] > 8:
        return
    params = model.init(jax.random.PRNGKey(case["seed"]))
    ids = case["ids"]
    if case["pad"] and case["family"] != "char":
        ids = np.concatenate([np.zeros((ids.shape[0], case["pad"]), ids.dtype), ids], axis=1)
    if ids.min() < 0 or ids.max() >= case["vocab"]:
        refused(
            lambda: model.apply(params, jnp.asarray(ids)), "tokens", "character ids", "token ids"
        )
        return
    logits = model.apply(params, jnp.asarray(ids))
    assert np.all(np.isfinite(logits))
    alone = model.apply(params, jnp.asarray(ids[-1:]))  # the last row alone
    np.testing.assert_allclose(alone[0], logits[-1], rtol=1e-5, atol=1e-6)
    if case["family"] == "recurrent_masked" and case["pad"] and not case["switch"]:
        unpadded = model.apply(params, jnp.asarray(case["ids"]))
        np.testing.assert_allclose(unpadded, logits, rtol=1e-5, atol=1e-6)


LINEN = {"simple_rnn": "KerasSimpleRNNCell", "lstm": "KerasLSTMCell", "gru": "KerasGRUCell"}


@st.composite
def flax_case(draw):
    case = draw(sequences_case())
    case["in_features"] = draw(st.one_of(st.just(case["x"].shape[-1]), sizes(1, 3)))
    case["return_sequences"] = draw(SWITCHES)
    case["tree"] = draw(st.sampled_from(["same", "same", "drop", "extra", "reshape"]))
    return case


def _tree(case, params):
    tree = dict(params)
    name = sorted(tree)[0]
    if case["tree"] == "drop":
        del tree[name]
    elif case["tree"] == "extra":
        tree["W"] = tree[name]
    elif case["tree"] == "reshape":
        tree[name] = np.asarray(tree[name]).reshape(-1)[None, :]
    return tree


def check_flax(case) -> None:
    """linen's and nnx's ``KerasRNN`` are ``recurrent.rnn`` on the same params; nnx's
    ``load`` takes exactly the cell's tree (names and shapes), as linen's ``apply``."""
    kind, x, params = case["kind"], case["x"], case["params"]
    units, features = case["cell"].units, x.shape[-1]
    options = {"reset_after": case["cell"].reset_after} if kind == "gru" else {}
    rs, in_features = case["return_sequences"], case["in_features"]
    if not is_size(in_features):
        refused(
            lambda: getattr(flax_nnx, LINEN[kind])(in_features, units, rngs=nnx.Rngs(0)),
            "in_features",
        )
        return
    if in_features > 8:
        return
    nnx_cell = getattr(flax_nnx, LINEN[kind])(in_features, units, rngs=nnx.Rngs(0), **options)
    tree = _tree(case, params)
    if case["tree"] != "same" or in_features != features:
        refused(lambda: nnx_cell.load(tree), "weight", "shape")
        return
    nnx_cell.load(tree)
    if not is_switch(rs):
        refused(lambda: flax_nnx.KerasRNN(nnx_cell, return_sequences=rs), "return_sequences")
        return
    kwargs = dict(mask=case["mask"], lengths=case["lengths"])
    want = recurrent.rnn(case["cell"], params, x, return_sequences=rs, **kwargs)
    got_nnx = flax_nnx.KerasRNN(nnx_cell, return_sequences=rs)(x, **kwargs)
    linen_layer = flax_linen.KerasRNN(
        getattr(flax_linen, LINEN[kind])(units, **options), return_sequences=rs
    )
    got_linen = linen_layer.apply({"params": params}, x, **kwargs)
    for got in (got_nnx, got_linen):
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


PROPERTIES = {
    "rnn_is_the_numpy_oracle": (check_rnn, rnn_case()),
    "bidirectional_is_two_oracle_runs": (check_bidirectional, bidirectional_case()),
    "nan_in_padding_never_reaches_an_output": (check_nan_padding, sequences_case()),
    "cells_are_the_oracle_or_refused": (check_cell, cell_case()),
    "attention_functions_are_numpy": (check_attention, attention_case()),
    "attention_decoder": (check_decoder, decoder_case()),
    "pad_sequences_is_plain_python": (check_pad, pad_case()),
    "tokenizer_is_plain_python": (check_tokenizer, tokenizer_case()),
    "models_are_their_rows": (check_model, model_case()),
    "flax_layers_are_the_functional_layer": (check_flax, flax_case()),
}


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_property(name):
    check, strategy = PROPERTIES[name]
    _run(check, strategy, EXAMPLES, derandomize=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_property_slow(name):
    check, strategy = PROPERTIES[name]
    count = _run(check, strategy, SLOW_EXAMPLES, derandomize=False)
    assert count >= SLOW_EXAMPLES


def _nan_gradient(case) -> None:
    nan_x, zero_x, mask = _nan_padded(case)

    def loss(params, x):
        outputs, _ = recurrent.rnn(case["cell"], params, x, mask=mask)
        return jnp.sum(outputs**2)

    got = jax.grad(loss)(case["params"], nan_x)
    want = jax.grad(loss)(case["params"], zero_x)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert np.all(np.isfinite(a)), "a NaN in the padding reached the gradient"
        close(a, np.asarray(b, np.float64), case["dtype"])


def test_nan_in_padding_never_reaches_the_gradient():
    # No shrinking: an expected failure would spend half a minute minimizing itself.
    _run(_nan_gradient, sequences_case(), max(1, EXAMPLES // 2), derandomize=True, shrink=False)
