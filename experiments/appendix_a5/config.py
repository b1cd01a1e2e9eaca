"""Appendix A.5: bfloat16 reconstruction error of LASER and standard attention outputs.

Reproduces: the paper's Appendix A.5 numerical study. The paper cached 4800 query/key/value
triples of shape (1024, 8, 256) (seq, heads, head_dim) while training its LM and reports the
relative reconstruction error of the bfloat16 attention output, as (mean, std):
  TPUv5: vanilla LASER (0.0018, 0.0002), LASER + trick (0.0017, 0.0001), standard (0.0016, 0.0001)
  A100:  vanilla LASER (0.002, 0.0003),  LASER + trick (0.0019, 0.0002), standard (0.0018, 0.0002)
Command: make reproduce-appendix-a5 [PROFILE=paper]  ->  results/tables/appendix_a5.md

Choices where the paper is silent (recorded here, and in the table's notes):
  - Inputs: random, not cached activations (the paper cached them from its trained LM; the
    suite's tiny LMs have a different shape, d 128 with 4 x 32 heads, and no cache is built):
    q, k, v ~ N(0, std^2) with std 1, rounded to bfloat16, so logits are ~N(0, 1) at scale
    1/sqrt(256).
  - Mask: causal, as in the decoder LM the paper cached from.
  - Error: ||O_bf16 - O_ref||_F / ||O_ref||_F per triple, O_ref in float64 from the same
    bfloat16-rounded inputs (so only the computation's error is measured).
  - "vanilla LASER" = log(attention(Q, K, exp(V))) with no shift.
Hardware: tiny runs on a 2-core CPU in about a minute; paper (4800 triples) wants an accelerator.
"""

import ml_collections

PROFILES = ("tiny", "paper")


def get_config(profile: str) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.profile = profile
    c.samples = {"tiny": 16, "paper": 4800}[profile]
    c.seq_len = 1024
    c.num_heads = 8
    c.head_dim = 256
    c.is_causal = True
    c.q_std = 1.0
    c.k_std = 1.0
    c.v_std = 1.0
    c.dtype = "bfloat16"
    c.seed = 0
    return c
