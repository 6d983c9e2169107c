"""Which precision trains fastest here: mixed bfloat16 on CPUs with bfloat16 units, else float32."""

from pathlib import Path


def default_precision() -> str:
    """``"mixed_bfloat16"`` on a CPU with bfloat16 arithmetic units and no GPU, else ``"float32"``.

    CPUs with AMX-BF16 (Intel Xeon 4th generation and later) or AVX-512 BF16 (AMD Zen 4 and later)
    run the bfloat16 convolutions and matrix products (oneDNN) much faster than float32; weights,
    the loss, ``mu``, ``log_var`` and the images stay float32. On a GPU, and on CPUs without these
    units, float32. ``benchmarks/run.py`` measures both.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "float32"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return "float32"
    return "mixed_bfloat16" if has_bfloat16_units(cpuinfo) else "float32"


def has_bfloat16_units(cpuinfo: str) -> bool:
    """Whether the ``flags`` of a ``/proc/cpuinfo`` text name AMX-BF16 or AVX-512 BF16."""
    flags = {flag for line in cpuinfo.splitlines() if line.split(":", 1)[0].strip() == "flags"
             for flag in line.split(":", 1)[1].split()}
    return bool(flags & {"amx_bf16", "avx512_bf16"})
