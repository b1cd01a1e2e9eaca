"""Flax modules shared by the suite's model families."""

from laser.nn.attention import MultiHeadAttention

__all__ = ["MultiHeadAttention"]
