"""pretrain: see README.md."""
