"""After training: statistics over seeds, plots, results files."""
