"""Layers as pure functions over parameter pytrees: initializers, cells, the scan layer,
attention, the fused LSTM, and an LSTM in plain numpy."""
