"""HTTP layer: routes and their dependencies (the only place that raises HTTP errors)."""
