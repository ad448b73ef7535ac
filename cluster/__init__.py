"""cluster: see README.md."""
