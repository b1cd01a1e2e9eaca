"""Flax modules shared by the suite's model families."""

from laser.nn.attention import AttentionConfig, MultiHeadAttention, attention_section
from laser.nn.params import count_params

__all__ = ["AttentionConfig", "MultiHeadAttention", "attention_section", "count_params"]
