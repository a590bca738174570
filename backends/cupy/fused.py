"""Fused CUDA kernels behind the CuPy backend's fast paths, built once per process.

Each writes new buffers (ember tensors are values) and follows the rule its
composed fallback in the core computes.
"""

import functools
from pathlib import Path

_SOURCES = Path(__file__).with_name("kernels")


@functools.lru_cache(maxsize=None)
def sigmoid(cupy, acc):
    """1 / (1 + exp(-x)) in one pass, computing in ``acc``; for x < 0 as e / (1 + e) with
    e = exp(x), which keeps the left tail (1 + exp(-x) rounds it away: 0.5 tanh(x / 2)
    + 0.5 was 0 below x = -17 in float32)."""
    return cupy.ElementwiseKernel(
        "T x", "T y", f"""
        {acc} v = ({acc})x;
        {acc} e = exp(-fabs(v));
        y = (T)(v >= 0 ? ({acc})1 / (({acc})1 + e) : e / (({acc})1 + e));
        """, f"ember_sigmoid_{acc}")


@functools.lru_cache(maxsize=None)
def softmax_rows(cupy, ctype):
    """Row-wise softmax / log-softmax (kernels/softmax.cu): one block per row."""
    module = cupy.RawModule(code=(_SOURCES / "softmax.cu").read_text(),
                            name_expressions=["softmax_rows<float>", "softmax_rows<double>"])
    return module.get_function(f"softmax_rows<{ctype}>")


@functools.lru_cache(maxsize=None)
def module(cupy, source, defines):
    """kernels/``source`` built with ``defines`` ((name, value) pairs) written ahead of
    it: after NVRTC's own headers, whose templates a -D option would rename."""
    head = "".join(f"#define {name} {value}\n" for name, value in defines)
    return cupy.RawModule(code=head + (_SOURCES / source).read_text())


@functools.lru_cache(maxsize=None)
def sgd_step(cupy):
    """PyTorch's SGD: g += wd p; b = mom b + (1 - damp) g (b = g first); d = g + mom b
    (Nesterov) or b; p -= lr d."""
    return cupy.ElementwiseKernel(
        "T p, T g, T buf, T lr, T mom, T damp, T wd, int32 nesterov, int32 first",
        "T p_out, T buf_out",
        """
        T gg = g + wd * p;
        T b = first ? gg : (T)(mom * buf + ((T)1 - damp) * gg);
        T d = nesterov ? (T)(gg + mom * b) : b;
        p_out = p - lr * d;
        buf_out = b;
        """, "ember_sgd_step")


@functools.lru_cache(maxsize=None)
def adam_step(cupy):
    """PyTorch's Adam / AdamW (decoupled) with optional amsgrad, bias-corrected."""
    return cupy.ElementwiseKernel(
        "T p, T g, T m, T v, T vmax, T lr, T b1, T b2, T eps, T wd, int32 decoupled, "
        "int32 ams, T bc1, T bc2_sqrt",
        "T p_out, T m_out, T v_out, T vmax_out",
        """
        T pp = decoupled ? (T)(p * ((T)1 - lr * wd)) : p;
        T gg = decoupled ? g : (T)(g + wd * p);
        T mm = b1 * m + ((T)1 - b1) * gg;
        T vv = b2 * v + ((T)1 - b2) * gg * gg;
        T vm = (ams && vmax > vv) ? vmax : vv;
        p_out = pp - (lr / bc1) * mm / (sqrt(vm) / bc2_sqrt + eps);
        m_out = mm;
        v_out = vv;
        vmax_out = vm;
        """, "ember_adam_step")
