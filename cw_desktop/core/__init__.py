"""Plain-Python application services: paths, settings, atomic files, the model catalog. No Qt."""
