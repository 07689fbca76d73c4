"""Training: objectives, the per-seed state and steps, and the engine that runs every seed
of a run as one compiled program on a ``("seed", "data")`` mesh."""
