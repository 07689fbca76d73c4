"""Property: whatever values the flags of an experiment take, the answer is one line and
an earlier run's files are never touched.

For every experiment, hypothesis draws values for a subset of its flags (integers far out
of range, NaN/Inf and huge floats, arbitrary text and comma lists, both forms of a switch,
the device flags) and runs the experiment in-process into the work dir of an earlier,
finished run of the same experiment. A value that passes validation is then refused
because the dir holds that run; a bad one is refused by the flag's check. Either way:
exit status 2, exactly one ``error:`` line, no traceback, and every file of the earlier
run byte for byte as it was. Examples per experiment: ``RNN_ATTN_PROPERTY_EXAMPLES``
(default 100 in the suite, 700 in all; the closing notes record longer runs).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import typing
from contextlib import redirect_stderr, redirect_stdout

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnn_attn.train import workdir as workdirs  # noqa: E402
from tests._entry import entry_point  # noqa: E402

EXAMPLES = int(os.environ.get("RNN_ATTN_PROPERTY_EXAMPLES", "100"))

CONFIGS = {
    "copy_task": ("experiments.copy_task.config", "CopyTaskConfig", []),
    "imdb": ("experiments.imdb.config", "ImdbConfig", ["--model", "lstm"]),
    "imdb_attention": ("experiments.imdb.config", "ImdbConfig", []),
    "imdb_glove": ("experiments.imdb_glove.config", "GloveConfig", []),
    "weather": ("experiments.weather.config", "WeatherConfig", []),
    "char_textgen": ("experiments.char_textgen.config", "TextGenConfig", []),
    "vanishing_gradients": ("experiments.vanishing_gradients.config", "VanishingConfig", []),
}
DEVICE_FLAGS = {
    "--seed-parallel": st.integers(-3, 64),
    "--data-parallel": st.integers(-3, 64),
    "--compute-dtype": st.sampled_from(["float32", "bfloat16", "float16", ""]),
}

INTS = st.one_of(
    st.integers(-5, 40),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2**31, 2**32, 2**32 - 1, 10**12]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e308, 0.5, 1.0]),
)
TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", ",", "a,,b", "gru,gru", "lstm", "bilstm,bilstm_attention", "dense"]),
)


def _value(kind: type) -> st.SearchStrategy:
    if kind is int:
        return INTS.map(str)
    if kind is float:
        return FLOATS.map(repr) | st.sampled_from(["nan", "inf", "-inf", "1e999", "x"])
    return TEXT


@st.composite
def flags(draw, experiment: str) -> list[str]:
    module, name, base = CONFIGS[experiment]
    cls = getattr(importlib.import_module(module), name)
    hints = typing.get_type_hints(cls)
    names = [
        f.name for f in dataclasses.fields(cls) if not (experiment == "imdb" and f.name == "models")
    ]
    argv = list(base)
    for field in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        flag = "--" + field.replace("_", "-")
        if hints[field] is bool:
            argv.append(draw(st.sampled_from([flag, "--no-" + flag[2:]])))
        else:
            argv += [flag, draw(_value(hints[field]))]
    for flag in draw(st.lists(st.sampled_from(sorted(DEVICE_FLAGS)), max_size=1)):
        argv += [flag, str(draw(DEVICE_FLAGS[flag]))]
    return argv


def _earlier_run(root, experiment: str) -> dict[str, bytes]:
    """A finished run of ``experiment`` in ``root``: its record, results and a checkpoint."""
    root.mkdir(exist_ok=True)
    if not (root / "run.json").exists():
        workdirs.write_identity(str(root), experiment, {"seeds": 2})
        (root / "results.json").write_text(json.dumps({"experiment": experiment}))
        (root / "checkpoints" / "model" / "5").mkdir(parents=True)
        (root / "checkpoints" / "model" / "5" / "state").write_bytes(os.urandom(64))
    return _snapshot(root)


def _snapshot(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _run(experiment: str, argv: list[str]) -> tuple[object, str]:
    main = entry_point(f"experiments.{experiment}")
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as e:  # argparse's own refusals
            status = e.code
    return status, err.getvalue()


@pytest.mark.parametrize("experiment", sorted(CONFIGS))
def test_any_flags_get_one_line_and_leave_an_earlier_run_untouched(experiment, tmp_path):
    root = tmp_path / "earlier"
    before = _earlier_run(root, experiment)
    runs: list[list[str]] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(flags(experiment))
    def check(argv):
        runs.append(argv)
        status, err = _run(experiment, ["--workdir", str(root), "--no-progress", *argv])
        lines = err.strip().splitlines()
        assert "Traceback" not in err, (argv, err)
        assert status == 2, (argv, status, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        assert _snapshot(root) == before, argv

    check()
    # Hypothesis ran the examples asked for (it may add a few of its own, never fewer).
    assert len(runs) >= EXAMPLES, len(runs)
    print(f"{experiment}: {len(runs)} examples, {sum(bool(a) for a in runs)} with flags")
