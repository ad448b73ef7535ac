"""datapipe: raw text → cleaned, deduplicated, tokenized and packed shards, on Ray Data."""
