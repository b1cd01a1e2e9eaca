"""benchmarks/profile_step.py: the HLO parser and the grouping of ops (no tracing, no compile)."""
# ruff: noqa: E501  (compiled HLO lines are long)

from benchmarks.profile_step import classify, parse_hlo

HLO = """\
HloModule jit_train_step

%fused_computation.1 (p0: f32[4,8], p1: f32[8,8]) -> f32[4,8] {
  %p0 = f32[4,8]{1,0} parameter(0)
  %p1 = f32[8,8]{1,0} parameter(1)
  ROOT %dot.3 = f32[4,8]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%fused_computation.2 (p0: f32[4,8]) -> f32[4,8] {
  %p0 = f32[4,8]{1,0} parameter(0)
  %c = f32[] constant(1)
  %b = f32[4,8]{1,0} broadcast(%c), dimensions={}
  %s = f32[4,8]{1,0} subtract(%p0, %b)
  ROOT %e = f32[4,8]{1,0} exponential(%s)
}

ENTRY %main (a: f32[4,8], w: f32[8,8]) -> (f32[4,8], f32[4,8]) {
  %a = f32[4,8]{1,0} parameter(0)
  %w = f32[8,8]{1,0} parameter(1)
  %ynn_fusion.1 = f32[4,8]{1,0} fusion(%a, %w), kind=kCustom, calls=%fused_computation.1, metadata={op_name="jit(train_step)/transpose(jvp(TransformerLM))/block_0/attention/query/dot_general"}
  %subtract_exponential_fusion = f32[4,8]{1,0} fusion(%a), kind=kLoop, calls=%fused_computation.2, metadata={op_name="jit(train_step)/jvp(TransformerLM)/block_1/attention/vmap()/exp"}
  %copy.4 = f32[4,8]{1,0} copy(%a), metadata={op_name="jit(train_step)/mul"}
  ROOT %t = (f32[4,8]{1,0}, f32[4,8]{1,0}) tuple(%ynn_fusion.1, %subtract_exponential_fusion)
}
"""


def test_fusions_take_the_ops_of_the_computation_they_call():
    instrs = parse_hlo(HLO)
    assert instrs["ynn_fusion.1"]["ops"] == {"fusion", "parameter", "dot"}
    assert "exponential" in instrs["subtract_exponential_fusion"]["ops"]
    assert instrs["copy.4"]["ops"] == {"copy"}
    assert instrs["ynn_fusion.1"]["op_name"].endswith("query/dot_general")


def test_ops_are_grouped_by_part_component_and_kind():
    instrs = parse_hlo(HLO)
    assert classify(instrs["ynn_fusion.1"]) == ("backward", "q/k/v/out projections", "matmul")
    assert classify(instrs["subtract_exponential_fusion"]) == (
        "forward",
        "attention core",
        "exp/log",
    )
    assert classify(instrs["copy.4"]) == ("optimiser", "optimiser", "elementwise/copy")
