"""The machine name a benchmark's results are filed under (benchmarks/machine.py)."""

from benchmarks import machine


def test_slug_names_vendor_model_and_best_isa():
    assert machine.slug("Intel(R) Xeon(R) Processor", ["avx2", "avx512f"]) == "intel-xeon-avx512"
    amd = "AMD EPYC 7B13 64-Core Processor"
    assert machine.slug(amd, ["avx2", "fma"]) == "amd-epyc-7b13-64core-avx2"
    assert (
        machine.slug("Intel(R) Xeon(R) CPU @ 2.20GHz", ["avx512f", "amx_bf16"]) == "intel-xeon-amx"
    )
    assert machine.slug("", []) == "unknown"


def test_cpu_flags_keeps_only_the_isa_that_matters_in_order(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f fma avx2 avx512_bf16 pni\n")
    assert machine.cpu_flags(info) == ["avx2", "fma", "avx512f", "avx512_bf16"]
    assert machine.cpu_flags(tmp_path / "missing") == []
    line = machine.line(dict(cpu="X", cores=2, isa=["avx2"]), 1.4e11)
    assert line == "X, 2 cores, avx2; float32 matmul peak 140 GFLOP/s"
    loaded = machine.line(dict(cpu="X", cores=2, isa=[], load=3.0))
    assert (
        loaded
        == "X, 2 cores, no AVX2; load average 3.0 at the start (other work on the cores if > 0.5)"
    )
