"""rnn_attn: recurrent networks and attention in JAX."""

__version__ = "0.1.0"
