"""Downstream evaluation and fine-tuning (paper Tables 2, 3, 10)."""
