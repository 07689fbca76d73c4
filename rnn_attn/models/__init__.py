"""Models composed of cells, the scan layer and attention, as pure init/apply pairs."""
