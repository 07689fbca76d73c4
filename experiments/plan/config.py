"""How many seeds a comparison needs to detect a STATED difference, from a pilot run.

    python -m experiments.plan --results docs/runs/000_imdb_attention/results.json \\
        --metric val_accuracy_best --difference 0.005
    python -m experiments.plan --results RUN/results.json --metric M --difference D \\
        [--models A,B] [--power 0.8] [--alpha 0.05] [--sequential --round 10 --maximum 50]

``D`` is in the metric's own units (accuracies are fractions: 0.005 is half a point). The
pilot is a finished run's ``results.json`` with at least 2 seeds per model; ``--models``
names the two compared (default: the run's reference model and the other, when it has
two). It trains nothing and writes nothing.

What it shows, for the difference ``A - B = D`` (not the difference the pilot happened to
show, which is printed beside it) at two-sided level ``--alpha``:

- paired by seed (when both models ran the same seed numbers, as every experiment here
  does: the same seed, the same data order): the sd of the per-seed differences, the
  seeds needed for ``--power`` (paired t-test), and the power the pilot had;
- unpaired (pooled sd, two-sample t-test): the seeds needed per model, and the pilot's
  power;
- each also at the sd's one-sided 80% upper confidence limit, since 3 seeds estimate a
  standard deviation poorly;
- with ``--sequential``: the group-sequential plan that adds ``--round`` seeds at a time
  up to ``--maximum`` (at most 5 looks), with the Lan-DeMets approximation of
  O'Brien-Fleming alpha spending: each look's z boundary, the nominal p-value that
  crosses it and the alpha spent by then.

The power and sample sizes are statsmodels' (``TTestPower``, ``TTestIndPower``); the
boundaries are computed with scipy (``rnn_attn.analysis.power``). Bad input (a missing or
malformed file, an unknown model or metric, a difference that is not a positive number,
...) gets one ``error:`` line and exit status 2.

Runtime on the 2-core CPU: about 5 seconds, most of it importing jax (for the shared
flag parser) and statsmodels; ``--sequential`` adds up to 5 seconds (5 looks).
"""

POWER = 0.8
ALPHA = 0.05
ROUND = 10
MAXIMUM = 50
