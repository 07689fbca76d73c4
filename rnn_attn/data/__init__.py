"""Data: synthetic tasks drawn with jax.random, and loaders of real data sets."""
