"""The ipywidgets dashboards: a live run, runs compared, and the threshold search."""
