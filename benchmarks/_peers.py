"""The peers' twins of ``benchmarks/_workloads.py``'s models: PyTorch, Keras 3 (TensorFlow
backend, with and without XLA) and plain Flax linen (``nn.RNN`` over Flax's own cells),
each with the workload's sizes, loss and optimizer (Keras's defaults).

Each ``*_step(w, data)`` returns ``run()``, one blocking train step on ``data``
(``_workloads.arrays``: one batch). A peer without an equivalent of a model raises
``Unsupported`` (its row then leaves that peer out, saying why).

Differences kept on purpose, the same work or less for the peer: the peers do not mask
padding (the documents' IMDB models do not either; the seq2seq encoder of ours masks the
source's padding, the peers' encoders read through it, its attention masks it in every
framework); PyTorch's input dropout draws a mask per step where Keras draws one per
sequence; PyTorch's LSTM has two bias vectors, both penalized.
"""

from __future__ import annotations

import os


class Unsupported(Exception):
    """The peer has no equivalent of this workload's model."""


# ---------------------------------------------------------------- PyTorch


def _torch_decoder(torch, nn, enc_dim: int, units: int, out: int):
    """Our ``nn.attention.AttentionDecoder`` (Bahdanau) in PyTorch: ``step(y, s, enc, keys,
    mask) -> (logits, s)``; ``keys(enc)`` is ``U_a h + b_a``; ``start(h)`` is
    ``tanh(h W_s)``."""

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            u = units
            self.W_s = nn.Linear(enc_dim, u, bias=False)
            self.U_a = nn.Linear(enc_dim, u)
            self.V_a = nn.Parameter(torch.randn(u) / u**0.5)
            self.U_s = nn.Linear(u, u + 2 * u + out, bias=False)  # [W_a | U_r | U_z | U_o]
            self.W_y = nn.Linear(out, 3 * u + out, bias=False)
            self.U_p = nn.Linear(u, u, bias=False)
            self.C = nn.Linear(enc_dim, 3 * u + out)  # its bias: b_r, b_z, b_p, b_o

        def keys(self, enc):
            return self.U_a(enc)

        def start(self, h):
            return torch.tanh(self.W_s(h))

        def step(self, y, s, enc, keys, mask=None):
            u = units
            from_s = self.U_s(s)
            scores = torch.tanh(from_s[:, None, :u] + keys) @ self.V_a
            if mask is not None:
                scores = scores.masked_fill(~mask, -1e9)
            weights = torch.softmax(scores, -1)
            context = (weights[..., None] * enc).sum(1)
            fy, fs, fc = self.W_y(y), from_s[:, u:], self.C(context)
            rz = torch.sigmoid(fy[:, : 2 * u] + fs[:, : 2 * u] + fc[:, : 2 * u])
            r, z = rz[:, :u], rz[:, u:]
            p = torch.tanh(fy[:, 2 * u : 3 * u] + self.U_p(r * s) + fc[:, 2 * u : 3 * u])
            s = (1 - z) * s + z * p
            return fy[:, 3 * u :] + fs[:, 2 * u :] + fc[:, 3 * u :], s

    return Decoder()


def _torch_recurrent(nn, w, input_dim: int, bidirectional: bool = False):
    kind = {"simple_rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[w.cell]
    return kind(input_dim, w.units, batch_first=True, bidirectional=bidirectional)


def _torch_model(torch, nn, w):
    """``(module, forward(module, inputs) -> outputs)`` of the workload."""
    F = torch.nn.functional
    m = nn.Module()
    if w.family in ("imdb", "bilstm"):
        m.embedding = nn.Embedding(w.vocab, w.embed)
        m.rnn = _torch_recurrent(nn, w, w.embed, bidirectional=w.family == "bilstm")
        m.drop = nn.Dropout(w.dropout)
        m.out = nn.Linear(w.units * (2 if w.family == "bilstm" else 1), 1)

        def forward(m, x):
            h = m.rnn(m.embedding(x))[1]
            h = h[0] if isinstance(h, tuple) else h  # LSTM: (h, c)
            return m.out(m.drop(torch.cat(list(h), -1)))[:, 0]

    elif w.family in ("weather", "char"):
        m.rnn = _torch_recurrent(nn, w, w.features or w.vocab)
        m.drop = nn.Dropout(w.dropout)
        m.out = nn.Linear(w.units, 1 if w.family == "weather" else w.vocab)

        def forward(m, x):
            x = x if w.family == "weather" else F.one_hot(x, w.vocab).float()
            out = m.out(m.rnn(m.drop(x))[0][:, -1])
            return out[:, 0] if w.family == "weather" else out

    else:
        m.encoder = nn.LSTM(w.vocab, w.units, batch_first=True)
        m.decoder = _torch_decoder(torch, nn, w.units, w.units, w.vocab)
        forward = _torch_encoder_decoder(torch, F, w)
    return m, forward


def _torch_encoder_decoder(torch, F, w):
    """The copy task's forward (the decoder fed its own softmax, ``s_0`` from the first
    encoder step) or seq2seq's (teacher-forced on ``decoder_inputs``, ``s_0`` from the
    last encoder step, the attention masking the source's padding)."""

    def forward(m, x):
        source = x if w.family == "copy" else x[:, : -w.out_length]
        enc = m.encoder(F.one_hot(source, w.vocab).float())[0]
        keys, mask = m.decoder.keys(enc), None if w.family == "copy" else source != 0
        s = m.decoder.start(enc[:, 0] if w.family == "copy" else enc[:, -1])
        y, logits = torch.zeros(x.shape[0], w.vocab), []
        for t in range(w.out_length):
            if w.family == "seq2seq":
                y = F.one_hot(x[:, source.shape[1] + t], w.vocab).float()
            out, s = m.decoder.step(y, s, enc, keys, mask)
            logits.append(out)
            y = torch.softmax(out, -1)
        return torch.stack(logits, 1)

    return forward


def _torch_loss(torch, F, w, model, outputs, targets):
    if w.family in ("imdb", "bilstm"):
        return F.binary_cross_entropy_with_logits(outputs, targets.float())
    if w.family == "weather":
        return F.l1_loss(outputs, targets)
    if w.family == "char":
        bias = [p for n, p in model.rnn.named_parameters() if "bias" in n]
        penalty = sum(w.bias_l1l2 * (b.abs().sum() + (b**2).sum()) for b in bias)
        return F.cross_entropy(outputs, targets.long()) + penalty
    ce = F.cross_entropy(outputs.transpose(1, 2), targets.long(), reduction="none")
    if w.family == "copy":
        return ce.mean()
    real = (targets != 0).float()  # seq2seq: the mean over each example's real tokens
    return ((ce * real).sum(1) / real.sum(1).clamp(min=1)).mean()


def torch_step(w, data):
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model, forward = _torch_model(torch, nn, w)
    if w.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=w.learning_rate, eps=1e-7)
    else:
        opt = torch.optim.RMSprop(model.parameters(), lr=w.learning_rate, alpha=0.9, eps=1e-7)
    x = torch.from_numpy(data["inputs"]).long() if w.family != "weather" else None
    x = torch.from_numpy(data["inputs"]) if x is None else x
    y = torch.from_numpy(data["targets"])

    def run():
        opt.zero_grad()
        loss = _torch_loss(torch, torch.nn.functional, w, model, forward(model, x), y)
        loss.backward()
        opt.step()

    return run


# ---------------------------------------------------------------- Keras 3 (TensorFlow)


def _keras_layers(keras, w):
    """The workload as a list of Keras layers (document 002 / 003 / 000's code)."""
    L = keras.layers
    if w.family in ("copy", "seq2seq"):
        raise Unsupported("Keras has no layer for our Bahdanau attention decoder")
    kind = {"simple_rnn": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}[w.cell]
    if w.family == "imdb":
        return [
            L.Input((w.length,), dtype="int32"),
            L.Embedding(w.vocab, w.embed),
            kind(w.units),
            L.Dense(1, activation="sigmoid"),
        ]
    if w.family == "bilstm":
        return [
            L.Input((w.length,), dtype="int32"),
            L.Embedding(w.vocab, w.embed),
            L.Bidirectional(L.LSTM(w.units)),
            L.Dropout(w.dropout),
            L.Dense(1, activation="sigmoid"),
        ]
    if w.family == "weather":
        return [L.Input((w.length, w.features)), kind(w.units), L.Dense(1)]
    penalty = keras.regularizers.L1L2(w.bias_l1l2, w.bias_l1l2)
    return [
        L.Input((w.length, w.vocab)),
        kind(w.units, dropout=w.dropout, bias_regularizer=penalty),
        L.Dense(w.vocab, activation="softmax"),
    ]


def keras_step(w, data, jit_compile: bool = False, legacy: bool = False):
    """Keras 3 on TensorFlow, ``train_on_batch``, compiled with ``jit_compile`` (XLA); with
    ``legacy`` Keras 2 (the ``tf_keras`` package, what ``tf.keras`` was before TF 2.16)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # not ~/.keras/keras.json's
    import numpy as np

    if legacy:
        import tf_keras as keras
    else:
        import keras
    if not legacy and keras.backend.backend() != "tensorflow":
        raise Unsupported(f"KERAS_BACKEND is {keras.backend.backend()!r}, not tensorflow")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(_keras_layers(keras, w))
    opt = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[w.optimizer]
    loss = {
        "imdb": "binary_crossentropy",
        "bilstm": "binary_crossentropy",
        "weather": "mae",
        "char": "sparse_categorical_crossentropy",
    }[w.family]
    model.compile(optimizer=opt(w.learning_rate), loss=loss, jit_compile=jit_compile)
    x, y = data["inputs"], data["targets"]
    if w.family == "char":  # document 003 feeds one-hot windows
        x = np.eye(w.vocab, dtype=np.float32)[x]
    y = y.astype(np.float32) if w.family != "char" else y

    def run():
        model.train_on_batch(x, y)

    return run


# ---------------------------------------------------------------- Flax linen


def _flax_decoder(nn, jnp, units: int, out: int):
    """Our Bahdanau ``AttentionDecoder`` as a linen module (as ``_torch_decoder``)."""

    class Decoder(nn.Module):
        @nn.compact
        def __call__(self, enc, s, ys, mask, steps: int):
            u = units
            keys = nn.Dense(u, name="U_a")(enc)
            v = self.param("V_a", nn.initializers.normal(u**-0.5), (u,))
            U_s = nn.Dense(3 * u + out, use_bias=False, name="U_s")
            W_y = nn.Dense(3 * u + out, use_bias=False, name="W_y")
            U_p = nn.Dense(u, use_bias=False, name="U_p")
            C = nn.Dense(3 * u + out, name="C")
            s = jnp.tanh(nn.Dense(u, use_bias=False, name="W_s")(s))
            y, logits = jnp.zeros((enc.shape[0], out), enc.dtype), []
            for t in range(steps):
                y = y if ys is None else ys[:, t]
                from_s = U_s(s)
                scores = jnp.tanh(from_s[:, None, :u] + keys) @ v
                scores = scores if mask is None else jnp.where(mask, scores, -1e9)
                context = (nn.softmax(scores, -1)[..., None] * enc).sum(1)
                fy, fs, fc = W_y(y), from_s[:, u:], C(context)
                rz = nn.sigmoid(fy[:, : 2 * u] + fs[:, : 2 * u] + fc[:, : 2 * u])
                r, z = rz[:, :u], rz[:, u:]
                p = jnp.tanh(fy[:, 2 * u : 3 * u] + U_p(r * s) + fc[:, 2 * u : 3 * u])
                s = (1 - z) * s + z * p
                logits.append(fy[:, 3 * u :] + fs[:, 2 * u :] + fc[:, 3 * u :])
                y = nn.softmax(logits[-1], -1)
            return jnp.stack(logits, 1)

    return Decoder()


def _flax_cell(nn, kind: str, units: int, name: str | None = None):
    cells = {"simple_rnn": nn.SimpleCell, "lstm": nn.OptimizedLSTMCell, "gru": nn.GRUCell}
    return cells[kind](units, name=name)


def _flax_model(w, lstm_cell=None):
    """The workload as a linen module: ``model.apply(variables, inputs, train)``;
    ``lstm_cell(units)`` replaces Flax's ``OptimizedLSTMCell`` in the BiLSTM."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            if w.family in ("imdb", "bilstm"):
                x = nn.Embed(w.vocab, w.embed)(x)
                if w.family == "bilstm":
                    cell = lstm_cell or nn.OptimizedLSTMCell
                    cells = [cell(w.units) for _ in range(2)]
                    h = nn.Bidirectional(nn.RNN(cells[0]), nn.RNN(cells[1]))(x)[:, -1]
                    h = nn.Dropout(w.dropout, deterministic=not train)(h)
                else:
                    h = nn.RNN(_flax_cell(nn, w.cell, w.units))(x)[:, -1]
                return nn.Dense(1)(h)[:, 0]
            if w.family in ("weather", "char"):
                x = x if w.family == "weather" else jax.nn.one_hot(x, w.vocab)
                x = nn.Dropout(w.dropout, deterministic=not train)(x)
                h = nn.RNN(_flax_cell(nn, w.cell, w.units, name="rnn"))(x)[:, -1]
                out = nn.Dense(1 if w.family == "weather" else w.vocab)(h)
                return out[:, 0] if w.family == "weather" else out
            source = x if w.family == "copy" else x[:, : -w.out_length]
            enc = nn.RNN(_flax_cell(nn, "lstm", w.units))(jax.nn.one_hot(source, w.vocab))
            if w.family == "copy":
                return _flax_decoder(nn, jnp, w.units, w.vocab)(
                    enc, enc[:, 0], None, None, w.out_length
                )
            ys = jax.nn.one_hot(x[:, -w.out_length :], w.vocab)
            return _flax_decoder(nn, jnp, w.units, w.vocab)(
                enc, enc[:, -1], ys, source != 0, w.out_length
            )

    return Model()


def _flax_penalty(w, params):
    """Keras's L1L2 on the recurrent layer's biases (document 003's char model)."""
    import jax
    import jax.numpy as jnp

    if not w.bias_l1l2:
        return 0.0
    biases = [
        leaf
        for path, leaf in jax.tree_util.tree_leaves_with_path(params["rnn"])
        if "bias" in jax.tree_util.keystr(path)
    ]
    return sum(w.bias_l1l2 * (jnp.abs(b).sum() + (b**2).sum()) for b in biases)


def flax_step(w, data, lstm_cell=None):
    """Plain Flax linen over Flax's own cells (``lstm_cell``: see ``_flax_model``), one
    jitted step (optax: Keras's defaults)."""
    import _workloads
    import jax
    import jax.numpy as jnp
    import optax

    model = _flax_model(w, lstm_cell)
    objective, optimizer = _workloads.objective(w), _workloads.optimizer(w)
    x, y = jnp.asarray(data["inputs"]), jnp.asarray(data["targets"])
    params = model.init(jax.random.PRNGKey(0), x, False)["params"]
    state = {"params": params, "opt": optimizer.init(params)}

    def train_step(params, opt_state, key):
        def loss_fn(p):
            out = model.apply({"params": p}, x, True, rngs={"dropout": key})
            return objective.loss(out, y).mean() + _flax_penalty(w, p)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step, key = jax.jit(train_step, donate_argnums=(0, 1)), jax.random.PRNGKey(1)

    def run():
        state["params"], state["opt"], loss = step(state["params"], state["opt"], key)
        loss.block_until_ready()

    return run


STEPS = {
    "torch": torch_step,
    "keras": keras_step,
    "keras_xla": lambda w, data: keras_step(w, data, jit_compile=True),
    "flax": flax_step,
}
