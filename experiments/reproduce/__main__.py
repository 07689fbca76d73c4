"""``python -m experiments.reproduce``: see ``config.py`` for the command, the expected
result and its runtime."""

import sys

if __name__ == "__main__":
    from experiments.reproduce.run import main

    sys.exit(main())
