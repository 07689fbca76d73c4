"""How many seeds a comparison needs, from a pilot run's results.json.

    python -m experiments.plan --results RUN/results.json --metric M --difference D

Modules: ``config`` (the command, what it shows, its defaults and runtime), ``run`` (the
flags, reading the pilot, the printed plan). The statistics are
``rnn_attn.analysis.power``. A tool, not a training experiment: it runs nothing.
"""
