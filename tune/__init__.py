"""tune: see README.md."""
