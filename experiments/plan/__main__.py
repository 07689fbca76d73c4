"""``python -m experiments.plan``: see ``config.py`` for the command, what it shows and its
runtime."""

import sys

if __name__ == "__main__":
    from experiments.plan.run import main

    sys.exit(main())
