import os
import tempfile

# XLA compiles the tests' programs without LLVM's costlier optimizations: the programs
# compute the same things, and a test's tiny model spends far longer being compiled than
# running (the suite took about a quarter less time). Set before JAX reads the flags;
# subprocesses inherit them (tests/_subprocesses.py adds its own flags to these).
from tests._subprocesses import FAST_COMPILE  # noqa: E402

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()

import jax  # noqa: E402

# Tests compare against float64 numpy references.
jax.config.update("jax_enable_x64", True)

# The experiments the tests run as subprocesses share a JAX compilation cache (this
# process imported JAX before, so it does not use it): a resumed run, or the same model
# in another test, loads its compiled steps instead of compiling them again. Keyed by the
# pytest-xdist run, so the workers of one run share it and no run sees another's.
_CACHES = os.path.join(tempfile.gettempdir(), "rnn_attn_test_jax_cache")
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(_CACHES, os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))),
)
# In this process too: the engine tests fit the same model under the same config again
# and again (each ``fit`` builds its programs anew), so most of their compilations hit.
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def _remove_old_caches(max_age_s: float = 6 * 3600) -> None:
    """Earlier runs' caches go (a run never lasts hours)."""
    import shutil
    import time

    if not os.path.isdir(_CACHES):
        return
    for name in os.listdir(_CACHES):
        path = os.path.join(_CACHES, name)
        if time.time() - os.path.getmtime(path) > max_age_s:
            shutil.rmtree(path, ignore_errors=True)


_remove_old_caches()

from tests._paths import SHARED_DATA  # noqa: E402,F401 - where the data tests look


def pytest_collection_finish(session):
    """The objects the collection imported (JAX, scipy, statsmodels, pandas, every test
    module) leave the cyclic collector's scans: statsmodels' Holm correction calls
    ``gc.collect()`` on every call, and over those objects each call took about 0.1 s (the
    archived-statistics test took a minute). They live until the process ends anyway."""
    import gc

    gc.freeze()
