"""Every recipe of the reference documents run over seeds, and the table that sets our
figures beside the documents' (docs/results.md).

    python -m experiments.reproduce --workdir runs/reproduce --update-doc docs/results.md

Modules: ``config`` (the rows: commands, figures, the documents' numbers, the expected
runtime), ``table`` (results.json files -> the markdown table), ``run`` (runs the rows
one after another, skipping finished ones; writes the table), ``__main__`` (the command).
"""
