import pytest

from rnn_attn.analysis.histories import at_epochs, train_validation_gap

HISTORIES = [
    {"accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.55, 0.7, 0.65]},
    {"accuracy": [0.5, 0.7], "val_accuracy": [0.5, 0.6]},  # stopped early
]


def test_figures_at_each_seeds_best_and_last_epoch():
    out = at_epochs(
        HISTORIES,
        [2, 2],
        {"best": ("val_accuracy", "best"), "last": ("accuracy", "final")},
    )
    assert out == {"best": [0.7, 0.6], "last": [0.9, 0.7]}
    with pytest.raises(ValueError, match="figure 'x': expected 'best' or 'final', got 'top'"):
        at_epochs(HISTORIES, [1, 1], {"x": ("accuracy", "top")})


def test_gap_is_averaged_over_the_epochs_every_seed_trained():
    rows = train_validation_gap(HISTORIES)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["train_accuracy"] == pytest.approx(0.75)
    assert rows[1]["val_accuracy"] == pytest.approx(0.65)
    assert rows[1]["gap"] == pytest.approx(0.1)
