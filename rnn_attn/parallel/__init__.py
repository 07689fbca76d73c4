"""Where a run computes: the ``("seed", "data")`` device mesh and its shardings."""
