"""Encoder-decoders without and with attention (Bahdanau, Luong dot and general,
multi-head) and a small Transformer on generated tasks whose output differs from the
input (reversal, sorting, addition, dates), greedy or beam-search decoding.

    python -m experiments.seq2seq --task addition --workdir runs/seq2seq_addition

Modules: ``config`` (settings, task sizes, expected runtime), ``train`` (splits,
models, training on the engine, the decoded tests), ``report`` (plots, printed report),
``__main__`` (the command).

Writes to --workdir: results.json (config, data record with the splits' overlaps,
decoding settings, per-seed metrics under models.<name>.per_seed.<metric>, statistics
and the comparison with the first model), exact_match_by_seed.png,
attention_<model>.png per attention model, and Orbax checkpoints.
"""
