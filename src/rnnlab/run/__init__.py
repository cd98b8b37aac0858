"""The run layer: configuration, building a run from it, and the train / evaluate / predict / show_data jobs."""
