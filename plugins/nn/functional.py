"""Layer computations as tensor code on core primitives (so every backend has
them and autograd differentiates them to any order)."""

import inspect
import itertools
import math
import numbers

import numpy as np

import ember
from ember import dtypes
from ember.autograd import run
from ember.errors import BackendError, DTypeError, IndexingError, ShapeError, refuses_none
from ember.ops import rounds_once, special
from ember.ops.activation import gelu_tanh, relu_grad
from ember.ops.reduce import by_largest, standardize
from ember.ops.movement import Unslice
from ember.tensor import wrap

scaled_dot_product_attention = ember.scaled_dot_product_attention


def _pair(v, name, op, least=1):
    """(h, w) of an int or a pair of ints, each at least ``least`` (padding's is 0): a
    stride, kernel or dilation of 0 would divide by zero or give no windows."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        v = (v, v)
    elif isinstance(v, (tuple, list)):
        v = tuple(v)
    if not (isinstance(v, tuple) and len(v) == 2 and all(
            isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in v)):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if min(v) < least:
        raise ValueError(f"{op}: {name} must be at least {least}, got {v}")
    return int(v[0]), int(v[1])


def _conv_padding(padding, kernel, stride, dilation, op="conv2d"):
    """(symmetric (ph, pw), extra (bottom, right)) for conv2d: ints, or PyTorch's 'valid'
    (none) and 'same' (stride 1 only; an odd total puts the extra row or column last);
    'valid' and 'same' for a kernel of any number of axes."""
    if padding == "valid":
        return (0,) * len(kernel), (0,) * len(kernel)
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' needs stride 1, got {stride} (as PyTorch)")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)
    if isinstance(padding, str):
        raise ValueError(f"conv2d: padding must be an int, a pair of ints, 'valid' or 'same', "
                         f"got {padding!r}")
    return _pair(padding, "padding", "conv2d", least=0), (0, 0)


class Linear(ember.Op):
    """x @ W.T + b as one op (a GEMM and a broadcast add on the backend, the bias added
    into the product where it has fast_addmm); the backward is tensor ops: g @ W, g.T @ x
    over all leading axes, and g summed."""

    __slots__ = ()

    def forward(self, x, w, b=None):
        be, wt = self.backend, self.backend.permute(w, (1, 0))
        if b is None:
            return be.matmul(x, wt)
        if be.fast_addmm is None:
            return be.add(be.matmul(x, wt), b)
        rows = be.reshape(x, (math.prod(x.shape[:-1]), x.shape[-1]))     # the bias added in
        return be.reshape(be.fast_addmm(b, rows, wt), x.shape[:-1] + (w.shape[0],))   # place

    def backward(self, g, x, w, b=None):
        gx = g @ w if x.requires_grad else None
        gw = run(WeightGrad(math.prod(g.shape[:-1]), *w.shape), (g, x), w.shape, w.dtype) \
            if w.requires_grad else None
        if b is None:
            return gx, gw
        return gx, gw, (g.sum(axis=tuple(range(g.ndim - 1))) if b.requires_grad else None)


class WeightGrad(ember.Op):
    """Linear's weight gradient g.T @ x over all leading axes as one op (one GEMM on a
    transposed view); its backward is tensor ops, so create_graph differentiates it."""

    __slots__ = ("rows", "outs", "ins")

    def __init__(self, rows, outs, ins):
        self.rows, self.outs, self.ins = rows, outs, ins

    def forward(self, g, x):
        b = self.backend
        g, x = b.reshape(g, (self.rows, self.outs)), b.reshape(x, (self.rows, self.ins))
        return b.matmul(b.permute(g, (1, 0)), x)

    def backward(self, gg, g, x):
        rows_g, rows_x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        dg = (rows_x @ gg.T).reshape(g.shape) if g.requires_grad else None
        dx = (rows_g @ gg).reshape(x.shape) if x.requires_grad else None
        return dg, dx


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if x.ndim == 0 or x.shape[-1:] != weight.shape[1:]:
        raise ShapeError(f"linear: input {x.shape} has {x.shape[-1] if x.ndim else 'no'} "
                         f"features but weight {weight.shape} expects {weight.shape[1]}")
    x, weight, bias = ember.amp.lower(x, weight, bias)    # under autocast: all three
    if x.dtype is not weight.dtype or (bias is not None and bias.dtype is not weight.dtype):
        out = x @ weight.T     # mixed dtypes: let the core's promotion handle it
        return out + bias if bias is not None else out
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return run(Linear(), inputs, x.shape[:-1] + weight.shape[:1], x.dtype)


def bilinear(input1, input2, weight, bias=None):
    """y_o = x1^T W_o x2 + b_o, weight (out, in1, in2), over any leading axes (the two
    inputs' must agree), as PyTorch's: one GEMM of x1 with the weight's (in1, out * in2)
    view, then a product with x2 summed over in2."""
    if weight.ndim != 3:
        raise ShapeError(f"bilinear: weight must be (out, in1, in2), got shape {weight.shape}")
    out, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1 or input2.ndim == 0 or \
            input2.shape[-1] != in2 or input1.shape[:-1] != input2.shape[:-1]:
        raise ShapeError(f"bilinear: inputs {input1.shape} and {input2.shape} must share their "
                         f"leading axes and end in {in1} and {in2} features (weight "
                         f"{weight.shape})")
    lead = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    mixed = (x1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2)
    y = (mixed * x2.unsqueeze(1)).sum(axis=-1).reshape(lead + (out,))
    return y if bias is None else y + bias


def _out_size(op, size, k, s, p, d):
    out = (size + 2 * p - d * (k - 1) - 1) // s + 1
    if out < 1:
        raise ShapeError(f"{op}: input size {size} with padding {p} is smaller than the "
                         f"(dilated) kernel {d * (k - 1) + 1}")
    return out


class Im2col(ember.Op):
    """The windows of a (padded) NCHW x in one op, from the backend's fast path or
    composed of slices, as (C, kh, kw, N, OH, OW): a conv is then one GEMM
    (O, C*kh*kw) @ (C*kh*kw, N*OH*OW) whose rows the copy writes in long runs,
    and a pool reduces along one axis."""

    __slots__ = ("kernel", "stride", "dilation", "shape", "out_hw")

    def __init__(self, kernel, stride, dilation, shape, out_hw):
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.shape, self.out_hw = shape, out_hw

    def forward(self, x):
        b = self.backend
        if b.fast_im2col is not None:
            return b.fast_im2col(x, self.kernel, self.stride, self.dilation)
        n, c = self.shape[:2]
        (kh, kw), (oh, ow) = self.kernel, self.out_hw
        pieces = [b.reshape(b.permute(b.slice(x, *_window(self.shape, i, j, self.kernel,
                                                          self.stride, self.dilation,
                                                          self.out_hw)), (1, 0, 2, 3)),
                            (c, 1, n, oh, ow))
                  for i in range(kh) for j in range(kw)]
        stacked = b.concatenate(pieces, 1) if len(pieces) > 1 else pieces[0]
        return b.reshape(stacked, (c, kh, kw, n, oh, ow))

    def backward(self, g, x):
        return (col2im(g, self.shape, self.kernel, self.stride, self.dilation),)


class Col2im(ember.Op):
    """im2col's adjoint through the backend's fast path; its own adjoint is im2col."""

    __slots__ = ("kernel", "stride", "dilation", "shape")

    def __init__(self, kernel, stride, dilation, shape):
        self.kernel, self.stride, self.dilation, self.shape = kernel, stride, dilation, shape

    def forward(self, g):
        return self.backend.fast_col2im(g, self.shape, self.kernel, self.stride, self.dilation)

    def backward(self, gg, g):
        return (im2col(gg, self.kernel, self.stride, self.dilation, g.shape[4:6]),)


def _window(shape, i, j, kernel, stride, dilation, out_hw):
    """(starts, stops, steps) of the strided window for kernel offset (i, j)."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_hw
    n, c = shape[:2]
    return ((0, 0, i * dh, j * dw), (n, c, i * dh + sh * (oh - 1) + 1, j * dw + sw * (ow - 1) + 1),
            (1, 1, sh, sw))


def im2col(x, kernel, stride, dilation, out_hw):
    n, c = x.shape[:2]
    return run(Im2col(kernel, stride, dilation, x.shape, out_hw), (x,),
               (c, *kernel, n, *out_hw), x.dtype)


def col2im(g, shape, kernel, stride, dilation):
    """Sum (C, kh, kw, N, OH, OW) windows back into zeros of the NCHW ``shape``."""
    if g.backend.fast_col2im is not None:
        return run(Col2im(kernel, stride, dilation, shape), (g,), shape, g.dtype)
    total = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            starts, stops, steps = _window(shape, i, j, kernel, stride, dilation, g.shape[4:6])
            placed = run(Unslice(shape, starts, stops, steps), (g[:, i, j].permute(1, 0, 2, 3),),
                         shape, g.dtype)
            total = placed if total is None else total + placed
    return total


def _padded(op, x, kernel, stride, padding, dilation, pad_value=0.0):
    """x padded with pad_value, and the output size (OH, OW) of its windows."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h, w = x.shape[2:]
    out_hw = (_out_size(op, h, kh, sh, ph, dh), _out_size(op, w, kw, sw, pw, dw))
    if ph or pw:
        x = ember.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), value=pad_value)
    return x, out_hw


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding windows of (N, C, H, W) (or (C, H, W)) as columns, PyTorch's
    (N, C * kh * kw, L) with L windows in row-major order (im2col)."""
    x, unbatch = _image_batch("unfold", input)
    kernel, stride = _pair(kernel_size, "kernel_size", "unfold"), _pair(stride, "stride", "unfold")
    dilation = _pair(dilation, "dilation", "unfold")
    x, out_hw = _padded("unfold", x, kernel, stride, _pair(padding, "padding", "unfold", least=0),
                        dilation)
    cols = im2col(x, kernel, stride, dilation, out_hw)           # (C, kh, kw, N, OH, OW)
    c, kh, kw, n, oh, ow = cols.shape
    return unbatch(cols.permute(3, 0, 1, 2, 4, 5).reshape(n, c * kh * kw, oh * ow))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """unfold's adjoint, as PyTorch's: columns (N, C * kh * kw, L) (or unbatched) summed
    back into an (N, C, H, W) image of ``output_size``, overlaps added."""
    op = "fold"
    kernel, stride = _pair(kernel_size, "kernel_size", op), _pair(stride, "stride", op)
    dilation, padding = _pair(dilation, "dilation", op), _pair(padding, "padding", op, least=0)
    h, w = _pair(output_size, "output_size", op)
    batched = input.ndim == 3
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: input must be (N, C * kh * kw, L) or (C * kh * kw, L), got "
                         f"shape {input.shape}")
    x = input if batched else input.unsqueeze(0)
    n, rows, blocks = x.shape
    oh, ow = (_out_size(op, size, k, s, p, d) for size, k, s, p, d in
              zip((h, w), kernel, stride, padding, dilation))
    if rows % (kernel[0] * kernel[1]) or blocks != oh * ow:
        raise ShapeError(f"{op}: input {input.shape} must hold C * {kernel[0] * kernel[1]} rows "
                         f"and {oh * ow} blocks (the {oh} x {ow} windows of {(h, w)})")
    c = rows // (kernel[0] * kernel[1])
    cols = x.reshape(n, c, kernel[0], kernel[1], oh, ow).permute(1, 2, 3, 0, 4, 5)
    (ph, pw) = padding
    out = col2im(cols, (n, c, h + 2 * ph, w + 2 * pw), kernel, stride, dilation)
    out = out[:, :, ph:ph + h, pw:pw + w]
    return out if batched else out.squeeze(0)


def _check_4d(op, x):
    if x.ndim != 4:
        raise ShapeError(f"{op}: expects input of shape (N, C, H, W), got {x.shape}")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) through im2col and one batched
    matmul, over (N, C, H, W) or an unbatched (C, H, W)."""
    if x.ndim == 3:
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    return _conv2d("conv2d", x, weight, bias, stride, padding, dilation, groups)


def _check_groups(op, groups):
    """The convolutions' ``groups``: an int of at least 1."""
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be an int >= 1, got {groups!r}")


def _single(v, name, op, least=1):
    """An int from an int or a 1-tuple, at least ``least``."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < least:
        raise ValueError(f"{op}: {name} must be an int >= {least} (or a 1-tuple of one), "
                         f"got {v!r}")
    return int(v)


def _flat(v, name, op, least=1):
    """A 1-D op's int (or 1-tuple) as the pair of a 2-D op over a height of one: (1, v),
    or (0, v) for a padding."""
    return (1 if least else 0, _single(v, name, op, least))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) or (C, L), as PyTorch: conv2d over a height of one,
    the weight (out, in/groups, k)."""
    _check_1d("conv1d", x)
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must have shape (out, in/groups, k), got {weight.shape}")
    _check_groups("conv1d", groups)
    if x.shape[-2] != weight.shape[1] * groups:
        raise ShapeError(f"conv1d: input {x.shape} has {x.shape[-2]} channels but weight "
                         f"{weight.shape} expects {weight.shape[1] * groups} (groups={groups})")
    pad = padding if isinstance(padding, str) else _flat(padding, "padding", "conv1d", 0)
    batched = x if x.ndim == 3 else x.unsqueeze(0)
    out = conv2d(batched.unsqueeze(2), weight.unsqueeze(2), bias, _flat(stride, "stride", "conv1d"),
                 pad, _flat(dilation, "dilation", "conv1d"), groups).squeeze(2)
    return out if x.ndim == 3 else out.squeeze(0)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The transposed 2-D convolution (conv2d's gradient with respect to its input, as
    PyTorch's), weight (in, out/groups, kh, kw): one GEMM per group spreads each input
    position over its window (C_out kh kw rows), col2im sums the windows into the output,
    then ``padding`` is cropped from each side and ``output_padding`` more rows and
    columns are kept at the bottom and right. Output size (H - 1) s - 2 p + d (k - 1) +
    output_padding + 1. An unbatched (C, H, W) input gives an unbatched output."""
    if x.ndim == 3:
        return conv_transpose2d(x.unsqueeze(0), weight, bias, stride, padding, output_padding,
                                groups, dilation).squeeze(0)
    _check_4d("conv_transpose2d", x)
    if weight.ndim != 4:
        raise ShapeError(f"conv_transpose2d: weight must have shape (in, out/groups, kh, kw), "
                         f"got {weight.shape}")
    _check_groups("conv_transpose2d", groups)
    stride, dilation = (_pair(stride, "stride", "conv_transpose2d"),
                        _pair(dilation, "dilation", "conv_transpose2d"))
    padding = _pair(padding, "padding", "conv_transpose2d", least=0)
    extra = _pair(output_padding, "output_padding", "conv_transpose2d", least=0)
    n, c, h, w = x.shape
    cin, cog, kh, kw = weight.shape
    if c != cin or cin % groups:
        raise ShapeError(f"conv_transpose2d: input {x.shape} has {c} channels but weight "
                         f"{weight.shape} takes {cin}, in groups of {groups}")
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(f"conv_transpose2d: output_padding {extra} must be smaller than stride "
                         f"{stride} or dilation {dilation}, as PyTorch requires")
    cout = cog * groups
    if bias is not None and bias.shape != (cout,):
        raise ShapeError(f"conv_transpose2d: bias must have shape ({cout},), got {bias.shape}")
    full = [(size - 1) * s + d * (k - 1) + 1 for size, s, d, k in
            zip((h, w), stride, dilation, (kh, kw))]
    out_hw = [f - 2 * p + e for f, p, e in zip(full, padding, extra)]
    if min(out_hw) < 1:
        raise ShapeError(f"conv_transpose2d: padding {padding} crops the whole output of "
                         f"{tuple(full)} from input {x.shape}")
    # (groups, out/groups kh kw, in/groups) @ (groups, in/groups, N H W)
    wt = weight.reshape(groups, cin // groups, cog * kh * kw).permute(0, 2, 1)
    xs = x.permute(1, 0, 2, 3).reshape(groups, cin // groups, n * h * w)
    cols = (wt @ xs).reshape(cout, kh, kw, n, h, w)
    out = col2im(cols, (n, cout, *full), (kh, kw), stride, dilation)
    if any(extra):
        out = ember.pad(out, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    (ph, pw), (oh, ow) = padding, out_hw
    if ph or pw:
        out = out[:, :, ph:ph + oh, pw:pw + ow]
    return out + bias.reshape(cout, 1, 1) if bias is not None else out


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The transposed 1-D convolution of (N, C, L) or (C, L) with weight (in, out/groups,
    k), as PyTorch's: conv_transpose2d over a height of one."""
    _check_1d("conv_transpose1d", x)
    if weight.ndim != 3:
        raise ShapeError(f"conv_transpose1d: weight must have shape (in, out/groups, k), got "
                         f"{weight.shape}")
    op = "conv_transpose1d"
    batched = x if x.ndim == 3 else x.unsqueeze(0)
    out = conv_transpose2d(batched.unsqueeze(2), weight.unsqueeze(2), bias,
                           _flat(stride, "stride", op), _flat(padding, "padding", op, 0),
                           _flat(output_padding, "output_padding", op, 0), groups,
                           _flat(dilation, "dilation", op)).squeeze(2)
    return out if x.ndim == 3 else out.squeeze(0)


def conv2d_relu(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                residual=None):
    """relu(conv2d(x, weight, bias, ...) + residual) (residual None: none), to the bit the
    composed ops' values, as one op where the backend fuses them: NumPy's Winograd
    convolution and im2col GEMM add the residual and take the relu as they write their
    outputs, a pass over memory or two fewer (ResNet's blocks: conv, add, relu). The ONNX
    importer calls it for Conv followed by Relu, or by Add and Relu, as onnxruntime's
    FusedConv and PyTorch's mkldnn convolutions fuse the same."""
    return _conv2d("conv2d_relu", x, weight, bias, stride, padding, dilation, groups,
                   residual, relu=True)


def _conv2d(name, x, weight, bias, stride, padding, dilation, groups, residual=None,
            relu=False):
    _check_4d(name, x)
    given = (x, padding)
    if weight.ndim != 4:
        raise ShapeError(f"{name}: weight must have shape (out, in/groups, kh, kw), got {weight.shape}")
    stride, dilation = _pair(stride, "stride", name), _pair(dilation, "dilation", name)
    _check_groups(name, groups)
    n, c = x.shape[:2]
    o, cg, kh, kw = weight.shape
    padding, extra = _conv_padding(padding, (kh, kw), stride, dilation)
    if any(extra):
        x = ember.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    if c != cg * groups:
        raise ShapeError(f"{name}: input {x.shape} has {c} channels but weight {weight.shape} "
                         f"expects {cg * groups} (groups={groups})")
    if o % groups:
        raise ShapeError(f"{name}: weight {weight.shape} has {o} output channels, not divisible "
                         f"by groups={groups}")
    if bias is not None and bias.shape != (o,):
        raise ShapeError(f"{name}: bias must have shape ({o},), one value per output channel "
                         f"of weight {weight.shape}, got {bias.shape}")
    out_hw = [_out_size(name, size, k, s, p, d) for size, k, s, p, d in
              zip(x.shape[2:], (kh, kw), stride, padding, dilation)]
    if residual is not None and residual.shape != (n, o, *out_hw):
        raise ShapeError(f"{name}: residual must have the output's shape {(n, o, *out_hw)}, "
                         f"got {residual.shape}")
    # under autocast: the windows too; the residual is added as `+` adds (promoting)
    x, weight, bias = ember.amp.lower(x, weight, bias)
    fast = _fast_conv(x, weight, bias, residual, stride, padding, dilation, groups, relu)
    if fast is not None:       # one op of the backend's own (Winograd's, depthwise loops)
        fused = residual if getattr(fast, "residual", False) else None
        inputs = tuple(t for t in (x, weight, bias, fused) if t is not None)
        return _epilogue(run(fast, inputs, (n, o, *out_hw), x.dtype), fast, residual, relu)
    share = _images_per_windows(x, c * kh * kw * math.prod(out_hw))
    if share < n:      # a share of the batch at a time, each one's windows in one tensor
        x, padding = given
        return ember.concatenate([_conv2d(
            name, x[i:i + share], weight, bias, stride, padding, dilation, groups,
            None if residual is None else residual[i:i + share], relu)
            for i in range(0, n, share)], axis=0)
    x, (oh, ow) = _padded(name, x, (kh, kw), stride, padding, dilation)
    cols = im2col(x, (kh, kw), stride, dilation, (oh, ow))
    k, rows = cg * kh * kw, n * oh * ow
    biased = groups == 1 and bias is not None and x.dtype is weight.dtype is bias.dtype
    fused = biased and relu and residual is None and x.backend.fast_addmm is not None
    if biased:        # one GEMM, (O, C*kh*kw) @ (C*kh*kw, N*OH*OW), the bias added into it
        out = run(BiasedGemm(fused), (bias.reshape(o, 1), weight.reshape(o, k),
                                      cols.reshape(k, rows)), (o, rows), x.dtype)
    elif groups == 1:
        out = weight.reshape(o, k) @ cols.reshape(k, rows)
    else:             # one batched GEMM over the groups
        out = weight.reshape(groups, o // groups, k) @ cols.reshape(groups, k, rows)
    out = out.reshape(o, n, oh, ow)
    if bias is not None and not biased:
        out = out + bias.reshape(o, 1, 1, 1)
    out = out.permute(1, 0, 2, 3)      # NCHW, a view of the GEMM's (O, N, OH, OW) rows
    return out if fused else _epilogue(out, None, residual, relu)


def _images_per_windows(x, per_image):
    """How many images' windows (``per_image`` elements each) fit in one tensor of x's
    backend (its max_tensor_bytes; wgpu binds 128 MiB a buffer on llvmpipe, ResNet-18's
    first convolution takes 225 MiB of windows at batch 32): all of x's where it has no
    limit, at least one."""
    limit = x.backend.max_tensor_bytes
    if not limit:
        return x.shape[0]
    return max(1, limit // max(1, per_image * x.dtype.itemsize))


def _epilogue(out, op, residual, relu):
    """relu(out + residual), as far as ``op`` did not fuse them."""
    if residual is not None and not getattr(op, "residual", False):
        out = out + residual
    return ember.relu(out) if relu and not getattr(op, "relu", False) else out


class BiasedGemm(ember.Op):
    """a @ b + c, c a column, as one op: a convolution's GEMM with its bias, added into
    the product where the backend has fast_addmm (one output array, not two), and a
    relu taken there too where ``relu`` (conv2d_relu; only with fast_addmm); the
    backward is matmul's and the bias's row sums."""

    __slots__ = ("relu",)
    saves_output = True

    def __init__(self, relu=False):
        self.relu = relu

    def forward(self, c, a, b):
        be = self.backend
        if be.fast_addmm is None:
            return be.add(be.matmul(a, b), c)
        return be.fast_addmm(c, a, b, self.relu)

    def backward(self, g, c, a, b):
        if self.relu:
            g = relu_grad(g, self.out)
        return (g.sum(axis=1, keepdims=True) if c.requires_grad else None,
                g @ b.T if a.requires_grad else None,
                a.T @ g if b.requires_grad else None)


#: the fewest input and output channels for which conv2d calls a backend's fast_conv3x3:
#: a thinner convolution is cheap as im2col's one GEMM, whose windows its weight gradient
#: reuses (the benchmark CNN's 1 -> 8 channels: its compiled step 20% slower through it)
CONV3X3_MIN_CHANNELS = 16


def _fast_conv(x, weight, bias, residual, stride, padding, dilation, groups, relu):
    """The op of a backend's own that runs this float32 or float64 convolution and adds
    its bias, or None: a group per channel through fast_depthwise_conv2d; 3x3 at stride
    1, no dilation, one group, padding up to 2 (its input gradient is then one too) and
    16 channels or more in and out through fast_conv3x3, which adds the residual and
    takes the relu too; any other of one group through fast_conv2d (the same) where no
    gradient is recorded."""
    b = x.backend
    if x.dtype not in (ember.float32, ember.float64) or any(
            t is not None and t.dtype is not x.dtype for t in (weight, bias, residual)):
        return None
    o, cg, kh, kw = weight.shape
    if groups == o == x.shape[1] and b.fast_depthwise_conv2d is not None:
        return DepthwiseConv2d((kh, kw), stride, padding, dilation)
    if (b.fast_conv3x3 is not None and (kh, kw) == (3, 3) and stride == (1, 1)
            and dilation == (1, 1) and groups == 1 and min(o, cg) >= CONV3X3_MIN_CHANNELS
            and all(0 <= p <= 2 for p in padding)):
        return Conv3x3(tuple(padding), bias is not None, residual is not None, relu)
    if b.fast_conv2d is not None and groups == 1 and not (ember.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, weight, bias, residual))):
        return InferenceConv2d(tuple(stride), tuple(padding), tuple(dilation), bias is not None,
                              residual is not None, relu)
    return None


def _bias_grad(g, bias):
    """A convolution's bias gradient, after its input's and weight's: () without a bias."""
    if bias is None:
        return ()
    return (g.sum(axis=(0, 2, 3)) if bias.requires_grad else None,)


class Conv3x3(ember.Op):
    """A 3x3 convolution at stride 1, plus its bias, plus a residual, then a relu (each
    where the op has it), as one op, through the backend's own algorithm
    (fast_conv3x3; NumPy's is Winograd's, 2 to 3 times fewer flops than im2col's GEMM,
    the rest added as the outputs are written). Its input gradient is the same kind of
    convolution, of g with the kernel flipped and its channel axes swapped, padded by
    2 - padding; its weight gradient one GEMM over x's windows, as conv2d's."""

    __slots__ = ("padding", "bias", "residual", "relu")
    saves_output = True

    def __init__(self, padding, bias=False, residual=False, relu=False):
        self.padding, self.bias, self.residual, self.relu = padding, bias, residual, relu

    def forward(self, x, w, *rest):
        return self.backend.fast_conv3x3(x, w, rest[0] if self.bias else None, self.padding,
                                         rest[-1] if self.residual else None, self.relu)

    def backward(self, g, x, w, *rest):
        if self.relu:
            g = relu_grad(g, self.out)
        (ph, pw), (n, c), o = self.padding, x.shape[:2], w.shape[0]
        gx = conv3x3(g, w.flip((2, 3)).permute(1, 0, 2, 3), (2 - ph, 2 - pw)) \
            if x.requires_grad else None
        gw = None
        if w.requires_grad:
            padded = ember.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
            rows = n * g.shape[2] * g.shape[3]
            cols = im2col(padded, (3, 3), (1, 1), (1, 1), g.shape[2:]).reshape(c * 9, rows)
            gw = (g.permute(1, 0, 2, 3).reshape(o, rows) @ cols.T).reshape(w.shape)
        grads = (gx, gw) + _bias_grad(g, rest[0] if self.bias else None)
        return grads + ((g if rest[-1].requires_grad else None,) if self.residual else ())


class InferenceConv2d(ember.Op):
    """A convolution of one group, plus its bias, plus a residual, then a relu (each
    where the op has it), as one op through the backend's own (fast_conv2d), for a
    result that needs no gradient (inference): NumPy's copies a few images' windows at a
    time, where im2col's GEMM keeps the whole batch's for the weight gradient."""

    __slots__ = ("stride", "padding", "dilation", "bias", "residual", "relu")

    def __init__(self, stride, padding, dilation, bias=False, residual=False, relu=False):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.bias, self.residual, self.relu = bias, residual, relu

    def forward(self, x, w, *rest):
        return self.backend.fast_conv2d(x, w, rest[0] if self.bias else None, self.stride,
                                        self.padding, self.dilation,
                                        rest[-1] if self.residual else None, self.relu)


def conv3x3(x, w, padding):
    n, o = x.shape[0], w.shape[0]
    oh, ow = (x.shape[2] + 2 * padding[0] - 2, x.shape[3] + 2 * padding[1] - 2)
    return run(Conv3x3(tuple(padding)), (x, w), (n, o, oh, ow), x.dtype)


class DepthwiseConv2d(ember.Op):
    """A convolution with one group per channel (MobileNet's), plus its bias where it has
    one, as one op, through the backend's direct loops (fast_depthwise_conv2d): im2col's
    windows, kh kw times the input, cost more to copy than the products. The backward
    is tensor ops over the windows: the weight gradient their sum weighted by g, the
    input gradient the kernel times g put back by col2im."""

    __slots__ = ("kernel", "stride", "padding", "dilation")

    def __init__(self, kernel, stride, padding, dilation):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation

    def forward(self, x, w, b=None):
        return self.backend.fast_depthwise_conv2d(x, w, b, self.stride, self.padding,
                                                  self.dilation)

    def backward(self, g, x, w, b=None):
        (ph, pw), (kh, kw), (_, c, h, wd) = self.padding, self.kernel, x.shape
        padded = ember.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        gt = g.permute(1, 0, 2, 3)                  # (C, 1, 1, N, OH, OW), as the windows
        gt = gt.reshape(c, 1, 1, *gt.shape[1:])
        gx = gw = None
        if x.requires_grad:
            windows = w.reshape(c, kh, kw, 1, 1, 1) * gt
            gx = col2im(windows, padded.shape, self.kernel, self.stride, self.dilation)
            gx = gx[:, :, ph:ph + h, pw:pw + wd] if ph or pw else gx
        if w.requires_grad:
            cols = im2col(padded, self.kernel, self.stride, self.dilation, g.shape[2:])
            gw = (cols * gt).sum(axis=(3, 4, 5)).reshape(w.shape)
        return (gx, gw) + _bias_grad(g, b)


class MaxPool2d(ember.Op):
    """The backend's max pool, which also returns the window offset of each winner
    (the first largest, as PyTorch): the backward then places each gradient once,
    with no window copies."""

    __slots__ = ("kernel", "stride", "dilation", "index")

    def __init__(self, kernel, stride, dilation):
        self.kernel, self.stride, self.dilation = kernel, stride, dilation

    def forward(self, x):
        out, self.index = self.backend.fast_max_pool2d(x, self.kernel, self.stride,
                                                       self.dilation)
        return out

    def backward(self, g, x):
        return (run(MaxUnpool2d(self.index, self.kernel, self.stride, self.dilation, x.shape),
                    (g,), x.shape, g.dtype),)


class MaxUnpool2d(ember.Op):
    """Max pooling's adjoint: each gradient into the window element that won; its own
    adjoint picks those elements again (the second derivative of a pool)."""

    __slots__ = ("index", "kernel", "stride", "dilation", "shape")

    def __init__(self, index, kernel, stride, dilation, shape):
        self.index, self.kernel, self.stride, self.dilation = index, kernel, stride, dilation
        self.shape = shape

    def forward(self, g):
        return self.backend.fast_max_unpool2d(g, self.index, self.kernel, self.stride,
                                              self.dilation, self.shape)

    def backward(self, gg, g):
        index = wrap(self.index, gg._backend, g.shape, ember.int32)
        cols = im2col(gg, self.kernel, self.stride, self.dilation, g.shape[2:])
        return (_pick(cols, index.permute(1, 0, 2, 3)),)


def _pick(cols, index):
    """The element at window offset ``index`` (C, N, OH, OW) of each window of ``cols``,
    as NCHW."""
    c, kh, kw, n, oh, ow = cols.shape
    return _pick_along(cols.reshape(c, kh * kw, n, oh, ow), index, 1).permute(1, 0, 2, 3)


def _pick_along(values, index, axis):
    """values[..., index, ...] along ``axis`` (index has values' shape without it, or one
    values broadcasts to): a masked sum, so the gradient reaches the picked elements only."""
    axis = axis % values.ndim - values.ndim      # from the right: index may broadcast values
    offsets = ember.arange(values.shape[axis], dtype=index.dtype, backend=values.backend)
    hit = offsets.reshape((-1,) + (1,) * (-axis - 1)) == index.unsqueeze(axis)
    picked = ember.where(hit, values, 0).sum(axis=axis)  # integer sums widen: back to the dtype
    return picked.to(values.dtype)


def _image_batch(op, x):
    """x as a batch of images: (N, C, H, W) as it is, (C, H, W) as a batch of one
    (PyTorch's unbatched input), and a function that undoes it on a result."""
    if x.ndim == 4:
        return x, lambda y: y
    if x.ndim == 3:
        return x.unsqueeze(0), lambda y: y.squeeze(0)
    raise ShapeError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")


def _check_1d(op, x):
    """The 1-D ops' input: (N, C, L), or (C, L) unbatched."""
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}: input must be (N, C, L) or (C, L), got shape {x.shape}")


def _pool_window(op, x, kernel, stride, padding, dilation, ceil_mode, pad_value):
    """x padded for pooling and the output size (OH, OW) (or (OD, OH, OW) for a volume),
    as PyTorch counts windows:
    floor((size + 2 pad - dilation (kernel - 1) - 1) / stride) + 1, or with ``ceil_mode``
    ceil, less one where the last window would start in the end padding; the partial
    last windows read ``pad_value`` past the padding."""
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ShapeError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    out, extra = [], []
    for size, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation):
        span = size + 2 * p - (k - 1) * d - 1
        if span < 0:
            raise ShapeError(f"{op}: input size {size} with padding {p} is smaller than the "
                             f"(dilated) kernel {(k - 1) * d + 1}")
        o = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s + (k - 1) * d + 1 - (size + 2 * p)))
    widths = tuple((p, p + e) for p, e in zip(padding, extra))
    if any(a or b for a, b in widths):
        x = ember.pad(x, ((0, 0), (0, 0)) + widths, value=pad_value)
    return x, tuple(out)


def lowest(dtype):
    """What max pooling pads with: -inf, an integer dtype's least value, or False."""
    if dtype is ember.bool_:
        return False
    return -math.inf if dtype.is_inexact else int(np.iinfo(dtype.np).min)


def _kernel_stride(stride):
    """Whether a pooling's ``stride`` asks for the kernel's: None, or PyTorch's empty list."""
    return stride is None or stride == () or stride == []


def _pool_args(op, kernel_size, stride, padding, dilation=1):
    """(kernel, stride, padding, dilation) pairs; stride None (or empty) is the kernel's."""
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if _kernel_stride(stride) else _pair(stride, "stride", op)
    return kernel, stride, _pair(padding, "padding", op, least=0), _pair(dilation, "dilation", op)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Largest value in each window (padding counts as -inf); the gradient goes to the
    first largest element of each window, as PyTorch's. ``return_indices`` also gives
    each winner's position in its input plane (h * W + w), as PyTorch's."""
    x, unbatch = _image_batch("max_pool2d", x)
    kernel, stride, padding, dilation = _pool_args("max_pool2d", kernel_size, stride, padding,
                                                   dilation)
    h, w = x.shape[2:]
    x, out_hw = _pool_window("max_pool2d", x, kernel, stride, padding, dilation, ceil_mode,
                             lowest(x.dtype))
    if x.backend.fast_max_pool2d is not None and not return_indices:
        return unbatch(run(MaxPool2d(kernel, stride, dilation), (x,), x.shape[:2] + out_hw,
                           x.dtype))
    cols = im2col(x, kernel, stride, dilation, out_hw)
    c, kh, kw, n, oh, ow = cols.shape
    index = cols.reshape(c, kh * kw, n, oh, ow).argmax(axis=1)
    out = unbatch(_pick(cols, index))
    if not return_indices:
        return out
    # the winner's window offset to its row and column in the unpadded input
    index = index.permute(1, 0, 2, 3)
    steps = {"backend": x.backend, "dtype": index.dtype}
    rows = (ember.arange(oh, **steps) * stride[0] - padding[0]).reshape(oh, 1)
    columns = ember.arange(ow, **steps) * stride[1] - padding[1]
    where = (rows + (index // kw) * dilation[0]) * w + columns + (index % kw) * dilation[1]
    return out, unbatch(where)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean of each window, as PyTorch: zero padding counts in the divisor with
    ``count_include_pad`` (ceil_mode's overhang past the padding never does); without
    it, only the input's own elements; ``divisor_override`` replaces the count."""
    x, unbatch = _image_batch("avg_pool2d", x)
    kernel, stride, padding, _ = _pool_args("avg_pool2d", kernel_size, stride, padding)
    _check_divisor("avg_pool2d", divisor_override)
    size = x.shape[2:]
    x, out_hw = _pool_window("avg_pool2d", x, kernel, stride, padding, (1, 1), ceil_mode, 0.0)
    cols = im2col(x, kernel, stride, (1, 1), out_hw)
    c, n, area = cols.shape[0], x.shape[0], kernel[0] * kernel[1]
    cols = cols.reshape(c, area, n, *out_hw)
    counts = [_window_counts(*args, count_include_pad) for args in
              zip(size, kernel, stride, padding, out_hw)]
    if divisor_override is None and all((count == k).all() for count, k in zip(counts, kernel)):
        return unbatch(cols.mean(axis=1).permute(1, 0, 2, 3))
    divisor = divisor_override if divisor_override is not None else ember.tensor(
        np.outer(*counts), dtype=x.dtype, backend=x.backend)
    return unbatch(cols.sum(axis=1).permute(1, 0, 2, 3) / divisor)


def _check_divisor(op, divisor_override):
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Number)
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a nonzero number, got "
                         f"{divisor_override!r}")


def _window_counts(size, k, s, p, out, include_pad):
    """How many positions each of ``out`` windows along one axis averages: those inside
    the padding too with ``include_pad``, else only the input's."""
    start = np.arange(out) * s - p
    stop = np.minimum(start + k, size + p)
    if not include_pad:
        start, stop = np.maximum(start, 0), np.minimum(stop, size)
    return stop - start


def _as_2d(op, x, kernel_size, stride, padding, dilation=1):
    """A 1-D pooling's (N, C, L) or (C, L) input and window as 2-D ones over a height of
    one, and a function that takes a 2-D result back to 1-D."""
    _check_1d(op, x)
    stride = None if _kernel_stride(stride) else _flat(stride, "stride", op)
    return (x.unsqueeze(-2), _flat(kernel_size, "kernel_size", op), stride,
            _flat(padding, "padding", op, 0), _flat(dilation, "dilation", op))


def _squeezed(out):
    """A 2-D pooling's result (and indices) over a height of one, back to 1-D."""
    return tuple(o.squeeze(-2) for o in out) if isinstance(out, tuple) else out.squeeze(-2)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Largest value of each window along the last axis of (N, C, L) or (C, L), as PyTorch."""
    x, kernel, stride, padding, dilation = _as_2d("max_pool1d", x, kernel_size, stride, padding,
                                                  dilation)
    return _squeezed(max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices))


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean of each window along the last axis of (N, C, L) or (C, L), as PyTorch."""
    x, kernel, stride, padding, _ = _as_2d("avg_pool1d", x, kernel_size, stride, padding)
    return _squeezed(avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad))


def _adaptive_windows(size, out):
    """(out, size) matrix averaging PyTorch's adaptive windows: row i over inputs
    floor(i size / out) .. ceil((i + 1) size / out) - 1."""
    m = np.zeros((out, size))
    for i, (start, stop) in enumerate(_adaptive_bounds(size, out)):
        m[i, start:stop] = 1.0 / (stop - start)
    return m


def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows along one axis: [(floor(i size / out),
    ceil((i + 1) size / out))] for each of the ``out`` outputs."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _adaptive_size(op, output_size, h, w):
    """(OH, OW) from an int, a pair, or None in a pair keeping that input size."""
    pair = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(pair) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if pair[0] is None else int(pair[0]), w if pair[1] is None else int(pair[1]))
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: output_size must be at least 1, got {output_size!r}")
    if h == 0 or w == 0:
        raise ShapeError(f"{op}: input of shape (..., {h}, {w}) has no positions to pool")
    return oh, ow


def adaptive_avg_pool2d(x, output_size):
    """Mean over the windows PyTorch's adaptive average pooling takes for an output of
    ``output_size`` (an int, a pair, None in a pair keeping that input size), on
    (N, C, H, W) or (C, H, W): (1, 1) is the mean over H and W, sizes that divide the
    input are avg_pool2d, and others two products with constant averaging matrices (the
    windows then overlap or differ in size), so every backend runs them as GEMMs."""
    x, unbatch = _image_batch("adaptive_avg_pool2d", x)
    h, w = x.shape[-2:]
    oh, ow = _adaptive_size("adaptive_avg_pool2d", output_size, h, w)
    if (oh, ow) == (1, 1):
        return unbatch(x.mean(axis=(-2, -1), keepdims=True))
    if h % oh == 0 and w % ow == 0:
        return unbatch(avg_pool2d(x, (h // oh, w // ow)))
    rows = ember.tensor(_adaptive_windows(h, oh), dtype=x.dtype, backend=x.backend)
    cols = ember.tensor(_adaptive_windows(w, ow).T, dtype=x.dtype, backend=x.backend)
    return unbatch(rows @ x @ cols)


def _adaptive_positions(size, out):
    """(out, widest) input positions of PyTorch's adaptive windows along one axis, the
    shorter windows padded with their last position (their max is the same, and the
    first largest is still found first)."""
    bounds = _adaptive_bounds(size, out)
    widest = max(b - a for a, b in bounds)
    return np.array([[min(a + j, b - 1) for j in range(widest)] for a, b in bounds])


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Largest value of each of PyTorch's adaptive windows for an output of
    ``output_size`` on (N, C, H, W) or (C, H, W); the gradient goes to the first largest
    element, and ``return_indices`` gives its position in the input plane (h * W + w).
    The windows are gathered as (N, C, OH, OW, kh * kw): they may overlap and differ in
    size, so no fixed stride walks them."""
    x, unbatch = _image_batch("adaptive_max_pool2d", x)
    (n, c, h, w), be = x.shape, x.backend
    oh, ow = _adaptive_size("adaptive_max_pool2d", output_size, h, w)
    rows, cols = _adaptive_positions(h, oh), _adaptive_positions(w, ow)
    kh, kw = rows.shape[1], cols.shape[1]
    windows = x[:, :, ember.tensor(rows.reshape(-1), backend=be)][
        ..., ember.tensor(cols.reshape(-1), backend=be)]
    windows = windows.reshape(n, c, oh, kh, ow, kw).permute(0, 1, 2, 4, 3, 5) \
        .reshape(n, c, oh, ow, kh * kw)
    index = windows.argmax(axis=-1)
    out = unbatch(_pick_along(windows, index, -1))
    if not return_indices:
        return out
    where = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(oh, ow, kh * kw)
    where = ember.tensor(where, dtype=index.dtype, backend=be)
    return out, unbatch(_pick_along(where, index, -1))


def adaptive_avg_pool1d(x, output_size):
    """adaptive_avg_pool2d along the last axis of (N, C, L) or (C, L)."""
    _check_1d("adaptive_avg_pool1d", x)
    return adaptive_avg_pool2d(x.unsqueeze(-2), (1, _single(output_size, "output_size",
                                                            "adaptive_avg_pool1d"))).squeeze(-2)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """adaptive_max_pool2d along the last axis of (N, C, L) or (C, L)."""
    _check_1d("adaptive_max_pool1d", x)
    return _squeezed(adaptive_max_pool2d(
        x.unsqueeze(-2), (1, _single(output_size, "output_size", "adaptive_max_pool1d")),
        return_indices))


#: interpolate's modes and the spatial axes each takes
_INTERPOLATE_RANKS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,),
                      "bilinear": (2,), "bicubic": (2,), "trilinear": (3,), "area": (1, 2)}


def _cubic_near(d, a=-0.75):
    """Keys' cubic convolution filter at distances 0 <= d <= 1 (PyTorch's A = -0.75; PIL's
    and antialiasing's -0.5)."""
    return ((a + 2) * d - (a + 3)) * d * d + 1


def _cubic_far(d, a=-0.75):
    """The filter at distances 1 <= d <= 2 (zero past them)."""
    return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a


def _cubic_weights(t):
    """The cubic filter's weights of the four taps around a source at fraction t past
    its second tap (arrays or tensors)."""
    return [_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t)]


def _taps(size, out, scale, mode, align_corners):
    """[(source index, weight or None)] per output position along one axis, PyTorch's
    source positions: nearest floor(j scale), nearest-exact floor((j + 1/2) scale),
    linear (j + 1/2) scale - 1/2 clamped at 0 (bicubic unclamped, four taps clamped to
    the edge) or, with align_corners, j (size - 1) / (out - 1)."""
    j = np.arange(out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        src = np.floor((j + 0.5 if mode == "nearest-exact" else j) * scale)
        return [(np.minimum(src.astype(np.int64), size - 1), None)]
    if align_corners:
        src = j * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        src = (j + 0.5) * scale - 0.5
    if mode == "bicubic":
        i0 = np.floor(src).astype(np.int64)
        return [(np.clip(i0 - 1 + k, 0, size - 1), w)
                for k, w in enumerate(_cubic_weights(src - i0))]
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    return [(i0, 1.0 - (src - i0)), (np.minimum(i0 + 1, size - 1), src - i0)]


def _antialiased(size, out, scale, mode, align_corners):
    """The (out, size) matrix of PyTorch's antialias=True weights along one axis (PIL's
    resampling): each output mixes the sources within the filter's reach of its centre,
    the reach and the filter widened by the scale when shrinking; bicubic's filter is
    Keys' with A = -0.5 (PIL's), bilinear's the triangle; each row sums to 1."""
    if align_corners:
        scale = (size - 1) / (out - 1) if out > 1 else 0.0
    reach = 2.0 if mode == "bicubic" else 1.0
    stretch = scale if scale >= 1.0 else 1.0
    matrix = np.zeros((out, size))
    for i in range(out):
        centre = scale * (i + 0.5)
        lo = max(int(centre - reach * stretch + 0.5), 0)      # (C's truncation, as PyTorch)
        hi = min(int(centre + reach * stretch + 0.5), size)
        d = np.abs((np.arange(lo, hi) - centre + 0.5) / stretch)
        w = np.where(d < 1, _cubic_near(d, -0.5), np.where(d < 2, _cubic_far(d, -0.5), 0.0)) \
            if mode == "bicubic" else np.maximum(1.0 - d, 0.0)
        total = w.sum()
        matrix[i, lo:hi] = w / total if total else w
    return matrix


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) as torch.nn.functional.interpolate:
    to ``size``, or by ``scale_factor`` (whose reciprocal then places the sources, unless
    recompute_scale_factor), with mode nearest, nearest-exact, linear, bilinear, bicubic,
    trilinear or area (align_corners as PyTorch's, False by default). Each axis in turn
    gathers its source rows (one, two or four) and mixes them, so gradients flow to every
    source; area is the adaptive average pool. ``antialias`` (bilinear and bicubic, as
    PyTorch's) averages every source a shrunk output covers, through one matrix per axis."""
    if mode not in _INTERPOLATE_RANKS:
        raise ValueError(f"interpolate: mode must be one of {', '.join(_INTERPOLATE_RANKS)}, "
                         f"got {mode!r}")
    axes = x.ndim - 2
    if axes not in _INTERPOLATE_RANKS[mode]:
        raise ShapeError(f"interpolate: mode {mode!r} takes inputs of rank "
                         f"{' or '.join(str(r + 2) for r in _INTERPOLATE_RANKS[mode])}, "
                         f"got shape {x.shape}")
    if align_corners is not None and mode in ("nearest", "nearest-exact", "area"):
        raise ValueError("interpolate: align_corners applies to the linear and cubic modes only")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give either size or scale_factor")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"interpolate: antialias applies to modes bilinear and bicubic only, "
                         f"got mode {mode!r}")
    spatial = x.shape[2:]
    if size is not None:
        out = tuple(size) if isinstance(size, (tuple, list)) else (size,) * axes
        scales = [s / o if o else 0.0 for s, o in zip(spatial, out)]
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) \
            else (scale_factor,) * axes
        out = tuple(int(math.floor(s * f)) for s, f in zip(spatial, factors))
        scales = [s / o if recompute_scale_factor and o else 1.0 / f
                  for s, o, f in zip(spatial, out, factors)]
    if len(out) != axes or min(out) < 1:
        raise ShapeError(f"interpolate: output size {out} for input {x.shape}: one size of at "
                         f"least 1 per spatial axis")
    if min(spatial) < 1:
        raise ShapeError(f"interpolate: input {x.shape} has an empty spatial axis")
    if mode == "area":
        return (adaptive_avg_pool1d if axes == 1 else adaptive_avg_pool2d)(x, out)
    for k, (size_k, out_k, scale) in enumerate(zip(spatial, out, scales)):
        if antialias:
            mix = _antialiased(size_k, out_k, scale, mode, align_corners)
            mix = ember.tensor(mix.T, dtype=x.dtype, backend=x.backend)
            x = ember.swapaxes(ember.swapaxes(x, 2 + k, -1) @ mix, 2 + k, -1)
            continue
        lead, mixed = (slice(None),) * (2 + k), None
        for index, weight in _taps(size_k, out_k, scale, mode, align_corners):
            tap = x[lead + (index,)]
            if weight is not None:
                shape = (out_k,) + (1,) * (axes - 1 - k)
                tap = tap * ember.tensor(weight.reshape(shape), dtype=x.dtype, backend=x.backend)
            mixed = tap if mixed is None else mixed + tap
        x = mixed
    return x


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0, *, window_start=None):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels) ** beta, as
    PyTorch's (AlexNet's normalization): the window starts ``window_start`` channels
    before each one (PyTorch: size // 2; ONNX's LRN: (size - 1) // 2), zeros past the
    edges."""
    if x.ndim < 3:
        raise ShapeError(f"local_response_norm: input must be (N, C, ...) with at least one "
                         f"position axis, got shape {x.shape}")
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    before = size // 2 if window_start is None else window_start
    c = x.shape[1]
    squares = ember.pad(x * x, ((0, 0), (before, size - 1 - before)) + ((0, 0),) * (x.ndim - 2))
    total = squares[:, :c]
    for i in range(1, size):
        total = total + squares[:, i:i + c]
    return x / (k + alpha / size * total) ** beta


def affine_grid(theta, size, align_corners=False):
    """Sampling positions theta @ (x, y[, z], 1) over an output of ``size`` (N, C, H, W)
    or (N, C, D, H, W), in [-1, 1] (pixel centres, or corners with align_corners), as
    PyTorch's: (N, H, W, 2) or (N, D, H, W, 3), x first; theta (N, 2, 3) or (N, 3, 4)."""
    size = tuple(int(n) for n in size)
    spatial = size[2:]
    if len(spatial) not in (2, 3) or theta.shape != (size[0], len(spatial), len(spatial) + 1):
        raise ShapeError(f"affine_grid: theta {theta.shape} and size {size} must be "
                         f"(N, 2, 3) with (N, C, H, W) or (N, 3, 4) with (N, C, D, H, W)")

    def axis(n):
        if align_corners:
            return np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
        return (np.arange(n) * 2 + 1) / n - 1
    mesh = np.meshgrid(*[axis(n) for n in spatial], indexing="ij")
    base = np.stack([m.reshape(-1) for m in reversed(mesh)] + [np.ones(mesh[0].size)], axis=1)
    base = ember.tensor(base, dtype=theta.dtype, backend=theta.backend)
    return ember.matmul(base, theta.transpose(-2, -1)).reshape(size[0], *spatial, len(spatial))


#: grid_sample's modes and padding modes
GRID_MODES, GRID_PADDINGS = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")


def _unnormalized(g, n, align_corners):
    """Grid coordinates in [-1, 1] as pixel positions along an axis of n (-1 and 1 the
    outer pixels' centres with align_corners, else the image's borders)."""
    return (g + 1.0) * ((n - 1) / 2) if align_corners else ((g + 1.0) * n - 1.0) / 2


def _grid_padded(pos, n, padding_mode, align_corners):
    """Pixel positions padded as PyTorch's grid_sample: border clips to [0, n - 1],
    reflection mirrors about the edges (pixel centres with align_corners, else the
    image's borders) then clips; zeros leaves them (what falls outside reads 0)."""
    if padding_mode == "reflection" and n > 1:
        lo, span = (0.0, n - 1.0) if align_corners else (-0.5, float(n))
        d = (pos - lo).abs()
        flips = ember.floor(d / span)
        extra = d - flips * span
        odd = flips - 2.0 * ember.floor(flips / 2.0)
        pos = ember.where(odd == 0, extra + lo, span - extra + lo)
    if padding_mode != "zeros":     # PyTorch's gradient is 0 on the edges too
        pos = ember.where((pos > 0) & (pos < n - 1), pos, ember.clip(pos, 0.0, n - 1.0).detach())
    return pos


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Values of (N, C, H, W) or (N, C, D, H, W) ``input`` at the positions of (N, Ho, Wo,
    2) or (N, Do, Ho, Wo, 3) ``grid`` ((x, y[, z]) in [-1, 1]), as PyTorch's: bilinear
    (trilinear on volumes) or bicubic (images; Keys' A = -0.75 on 4 x 4 taps, each padded),
    both differentiable in input and grid, or nearest (ties to even); padding zeros,
    border or reflection; (N, C, Ho, Wo) or (N, C, Do, Ho, Wo)."""
    if mode not in GRID_MODES or padding_mode not in GRID_PADDINGS:
        raise ValueError(f"grid_sample: mode must be one of {GRID_MODES} and padding_mode one "
                         f"of {GRID_PADDINGS}, got {mode!r}, {padding_mode!r}")
    k = input.ndim - 2
    if k not in (2, 3) or grid.ndim != input.ndim or grid.shape[-1] != k \
            or grid.shape[0] != input.shape[0]:
        raise ShapeError(f"grid_sample: input (N, C, H, W) with grid (N, Ho, Wo, 2), or (N, C, D, "
                         f"H, W) with (N, Do, Ho, Wo, 3), of one batch; got {input.shape} and "
                         f"{grid.shape}")
    if mode == "bicubic" and k != 2:
        raise ValueError("grid_sample: bicubic samples images (N, C, H, W) only, as PyTorch's")
    n, c, spatial = input.shape[0], input.shape[1], input.shape[2:]
    pos = [_unnormalized(grid[..., k - 1 - a], size, align_corners)    # grid holds x first
           for a, size in enumerate(spatial)]
    rows = input.permute(0, *range(2, k + 2), 1).reshape(n * math.prod(spatial), c)
    base = ember.arange(n, backend=input.backend).reshape((n,) + (1,) * k) * math.prod(spatial)

    def at(index):
        """input at integer-valued positions, one tensor per axis: (N, ..., C), 0 outside."""
        inside, flat = None, base
        for i, size, stride in zip(index, spatial, (math.prod(spatial[a + 1:]) for a in range(k))):
            within = (i >= 0) & (i <= size - 1)
            inside = within if inside is None else inside & within
            flat = flat + (ember.clip(i, 0, size - 1) * stride).to(base.dtype)
        return rows[flat] * inside.to(input.dtype).unsqueeze(-1)

    if mode == "bicubic":                   # the taps padded one by one, as PyTorch's
        taps = []
        for p, size in zip(pos, spatial):
            p0 = ember.floor(p).detach()
            weights = _cubic_weights((p - p0).unsqueeze(-1))
            taps.append([(_grid_padded(p0 + (o - 1.0), size, padding_mode, align_corners).detach(),
                          weights[o]) for o in range(4)])
    else:
        pos = [_grid_padded(p, size, padding_mode, align_corners) for p, size in zip(pos, spatial)]
        taps = []
        for p in pos:
            if mode == "nearest":           # halves to even; the grid's gradient zero
                taps.append([(ember.round(p), None)])
            else:
                p0 = ember.floor(p).detach()
                f = (p - p0).unsqueeze(-1)
                taps.append([(p0, 1.0 - f), (p0 + 1.0, f)])
    out = None
    for corner in itertools.product(*taps):
        value = at([i for i, _ in corner])
        for _, weight in corner:
            value = value if weight is None else value * weight
        out = value if out is None else out + value
    if mode == "nearest" and grid.requires_grad:    # the grid's gradient is 0, as PyTorch's
        chosen = ember.full((), True, dtype=ember.bool_, backend=out.backend)
        out = ember.where(chosen, out, grid.sum().to(out.dtype))
    return out.permute(0, k + 1, *range(1, k + 1))


def pixel_shuffle(x, upscale_factor):
    """(..., C r^2, H, W) -> (..., C, H r, W r), channel c r^2 + i r + j going to row i and
    column j of each r x r block, as PyTorch's (ESPCN's sub-pixel convolution)."""
    r = _single(upscale_factor, "upscale_factor", "pixel_shuffle")
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: input {x.shape} needs (..., C, H, W) with C divisible "
                         f"by upscale_factor^2 = {r * r}")
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    k = len(lead)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def channel_shuffle(x, groups):
    """(N, C, ...) with its channels in ``groups`` interleaved: channel g (C / groups) + i
    goes to i groups + g, as torch's (ShuffleNet)."""
    g = _single(groups, "groups", "channel_shuffle")
    if x.ndim < 3 or x.shape[1] % g:
        raise ShapeError(f"channel_shuffle: input {x.shape} needs (N, C, *spatial) with C "
                         f"divisible by groups = {g}")
    n, c, *rest = x.shape
    return x.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


def pixel_unshuffle(x, downscale_factor):
    """pixel_shuffle's inverse: (..., C, H r, W r) -> (..., C r^2, H, W), as PyTorch's."""
    r = _single(downscale_factor, "downscale_factor", "pixel_unshuffle")
    if x.ndim < 3 or x.shape[-2] % r or x.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: input {x.shape} needs (..., C, H, W) with H and W "
                         f"divisible by downscale_factor = {r}")
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    k = len(lead)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Each sample's channels in ``num_groups`` groups, each normalized over its
    channels and positions (ember.ops.reduce.standardize), then a per-channel weight and
    bias, as PyTorch's."""
    if x.ndim < 2:
        raise ShapeError(f"group_norm: input must be (N, C, ...), got shape {x.shape}")
    n, c = x.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ShapeError(f"group_norm: {c} channels do not divide into {num_groups} groups")
    grouped = ember.amp.widen(x).reshape(n, num_groups, c // num_groups, *x.shape[2:])
    out = standardize(grouped, tuple(range(2, grouped.ndim)), eps).reshape(x.shape)
    return _channel_affine(out, weight, bias)


def _channel_affine(out, weight, bias):
    """out (N, C, ...) times a weight and plus a bias of one entry per channel (either
    may be None), as the normalizations end."""
    per_channel = (out.shape[1],) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    return out if bias is None else out + bias.reshape(per_channel)


def _norm(x, p, dim):
    """The p-norm along ``dim`` (kept), scaled by the largest magnitude first (the
    array API's vector_norm): no overflow at 1e30 in float32, no underflow at 1e-30."""
    from ember.array_api import linalg
    return linalg.vector_norm(x, axis=dim, keepdims=True, ord=p)


def _at_least(value, least):
    """max(value, least) whose gradient is value's (PyTorch clamps its norms so, under
    no_grad)."""
    return value + (ember.maximum(value, least) - value).detach()


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim``, as PyTorch; computed from x over its largest
    magnitude s (as y / max(||y||, eps / s)), so that a norm past the dtype's range does
    not make it 0 (normalize([3e38, 3e38]) is [0.707, 0.707], PyTorch's float32 0)."""
    y, s = by_largest(x, dim)
    return y / ember.maximum(_norm(y, p, dim), eps / s)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along ``dim``, as PyTorch
    computes it (each normalized first, broadcast against the other): a zero vector
    gives 0. Each is scaled as in normalize: vectors whose norms overflow are still
    compared (PyTorch's float32 gives NaN or 0)."""
    if x1.shape != x2.shape:
        try:
            shape = np.broadcast_shapes(x1.shape, x2.shape)
        except ValueError:
            raise ShapeError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not "
                             f"broadcast") from None
        x1, x2 = ember.broadcast_to(x1, shape), ember.broadcast_to(x2, shape)
    (y1, s1), (y2, s2) = by_largest(x1, dim), by_largest(x2, dim)
    a = y1 / _at_least(_norm(y1, 2.0, dim), eps / s1)
    b = y2 / _at_least(_norm(y2, 2.0, dim), eps / s2)
    return (a * b).sum(axis=dim)


def pdist(x, p=2.0):
    """The p-norm distances between the rows of (N, M), i < j in row-major order (the
    upper triangle of cdist(x, x)), as torch's; a zero distance's gradient is 0."""
    if x.ndim != 2:
        raise ShapeError(f"pdist: input must be (N, M), got shape {x.shape}")
    rows, cols = ember.triu_indices(x.shape[0], x.shape[0], 1, backend=x.backend)
    return ember.cdist(x, x, p)[rows, cols]


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last axis, as PyTorch (eps keeps the gradient of
    equal rows finite)."""
    d = _norm(x1 - x2 + eps, p, -1)
    return d if keepdim else d.squeeze(-1)


#: F.pad's modes
PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(x, pad, mode="constant", value=None):
    """PyTorch's F.pad: ``pad`` gives (before, after) pairs from the last axis backwards,
    (left, right, top, bottom, ...); a negative width crops. "constant" fills with
    ``value`` (0) on any axes; "reflect" (mirrored without the edge), "replicate" (the
    edge repeated) and "circular" (wrapped) pad the last 1 to 3 axes of an input with
    one or two more (batch and channel), as PyTorch. reflect and replicate pad the input
    and then crop, circular crops and then wraps, as PyTorch does."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(PAD_MODES)}, got {mode!r}")
    pad = tuple(pad)
    if len(pad) % 2 or not all(isinstance(w, numbers.Integral) and not isinstance(w, bool)
                               for w in pad):
        raise ValueError(f"pad: pad must be an even number of ints (before, after) from the "
                         f"last axis backwards, got {pad!r}")
    pairs = len(pad) // 2
    if pairs > x.ndim:
        raise ShapeError(f"pad: {pairs} (before, after) pairs for an input of {x.ndim} axes "
                         f"{x.shape}")
    widths = [(0, 0)] * (x.ndim - pairs) + [(int(pad[2 * i]), int(pad[2 * i + 1]))
                                            for i in reversed(range(pairs))]
    if mode == "constant":
        x = _crop(x, widths)
        return ember.pad(x, tuple((max(a, 0), max(b, 0)) for a, b in widths),
                         0 if value is None else value)
    if value is not None:
        raise ValueError(f"pad: mode {mode!r} takes no value (only 'constant' fills)")
    if pairs > 3 or x.ndim not in (pairs + 1, pairs + 2):
        raise ShapeError(f"pad: mode {mode!r} pads the last 1 to 3 axes of an input with one "
                         f"or two axes more (batch, channels), as PyTorch; got {pairs} pairs for "
                         f"shape {x.shape}")
    if mode == "circular":
        x = _crop(x, widths)
    for axis, (before, after) in enumerate(widths):
        x = pad_axis(x, axis, max(before, 0), max(after, 0), mode)
    return x if mode == "circular" else _crop(x, widths)


def _crop(x, widths):
    """x without the elements that negative (before, after) widths remove."""
    if all(a >= 0 and b >= 0 for a, b in widths):
        return x
    if any(d + min(a, 0) + min(b, 0) < 0 for d, (a, b) in zip(x.shape, widths)):
        raise ShapeError(f"pad: negative widths {widths} crop more than shape {x.shape} holds")
    return x[tuple(slice(-min(a, 0), d + min(b, 0)) for d, (a, b) in zip(x.shape, widths))]


def pad_axis(x, axis, before, after, mode):
    """x padded along one axis, by concatenating slices (so every backend has it and
    autograd sums the gradients of repeated elements): "reflect" mirrors without the
    edge, "replicate" repeats the edge, "circular" wraps around once."""
    if not before and not after:
        return x
    n = x.shape[axis]

    def take(start, stop):
        return x[(slice(None),) * axis + (slice(start, stop),)]
    if mode == "replicate":
        if n == 0:
            raise ShapeError(f"pad: replicate padding of an empty axis {axis} of {x.shape}")

        def edge(at, count):
            return ember.broadcast_to(take(at, at + 1),
                                      x.shape[:axis] + (count,) + x.shape[axis + 1:])
        parts = [edge(0, before), x, edge(n - 1, after)]
    elif mode == "reflect":
        if before >= n or after >= n:
            raise ShapeError(f"pad: reflect padding {before, after} must be less than the size "
                             f"{n} of axis {axis}")
        parts = [ember.flip(take(1, before + 1), axis), x,
                 ember.flip(take(n - 1 - after, n - 1), axis)]
    elif mode == "circular":
        if before > n or after > n:
            raise ShapeError(f"pad: circular padding {before, after} wraps around axis {axis} "
                             f"of size {n} more than once")
        parts = [take(n - before, n), x, take(0, after)]
    else:
        raise ValueError(f"pad_axis: mode must be reflect, replicate or circular, got {mode!r}")
    return ember.concatenate(parts, axis=axis)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    The mask is drawn from ember's host generator, so a seed gives the same
    mask on every backend."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    # drawn in float32 whatever x's dtype, so float32 and float64 runs share one mask
    keep = ember.rand(x.shape, dtype=ember.float32, backend=x.backend) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


def _channel_dropout(op, spatial, x, p, training):
    """Whole channels zeroed with probability p (the rest scaled by 1 / (1 - p)) on
    (N, C, *spatial) or (C, *spatial) input: neighbouring positions of a feature map are
    correlated, so dropping them one by one regularizes little (Tompson et al. 2015)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: input must be (N, C, {spatial} axes) or (C, {spatial} axes), "
                         f"got shape {x.shape}")
    if not training or p == 0.0:
        return x
    channels = x.shape[:x.ndim - spatial] + (1,) * spatial
    keep = ember.rand(channels, dtype=ember.float32, backend=x.backend) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p)) if p < 1.0 else x * 0.0


#: SELU's negative saturation, -scale * alpha: the value alpha dropout sets dropped units to
SELU_SATURATION = -1.7580993408473766


def _alpha_dropout(op, x, p, training, shape):
    """Units of ``shape`` (broadcast over x) set to SELU's saturation with probability p,
    then an affine map that keeps a standardized input's mean 0 and variance 1
    (Klambauer et al. 2017), as PyTorch's."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    a = SELU_SATURATION
    scale = ((1.0 - p) * (1.0 + p * a * a)) ** -0.5
    keep = (ember.rand(shape, dtype=ember.float32, backend=x.backend) >= p).to(x.dtype)
    return (x * keep + a * (1.0 - keep)) * scale - scale * a * p


def alpha_dropout(x, p=0.5, training=False):
    """Dropout for self-normalizing networks (SELU): dropped units take SELU's saturation
    and an affine map keeps the mean and variance, as torch's F.alpha_dropout."""
    return _alpha_dropout("alpha_dropout", x, p, training, x.shape)


def feature_alpha_dropout(x, p=0.5, training=False):
    """alpha_dropout of whole channels of (N, C, *spatial), as torch's."""
    if x.ndim < 2:
        raise ShapeError(f"feature_alpha_dropout: input must be (N, C, ...), got {x.shape}")
    return _alpha_dropout("feature_alpha_dropout", x, p, training,
                          x.shape[:2] + (1,) * (x.ndim - 2))


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: negative inputs times a slope drawn uniformly from [lower,
    upper] per element in training, (lower + upper) / 2 in eval, as torch's."""
    if not 0.0 <= lower <= upper:
        raise ValueError(f"rrelu: needs 0 <= lower <= upper, got {lower} and {upper}")
    if training:
        slope = ember.uniform(lower, upper, x.shape, dtype=ember.float32,
                              backend=x.backend).to(x.dtype)
    else:
        slope = (lower + upper) / 2
    return ember.where(x >= 0, x, x * slope)


def dropout1d(x, p=0.5, training=True):
    """Channel dropout on (N, C, L) or (C, L)."""
    return _channel_dropout("dropout1d", 1, x, p, training)


def dropout2d(x, p=0.5, training=True):
    """Channel dropout on (N, C, H, W) or (C, H, W)."""
    return _channel_dropout("dropout2d", 2, x, p, training)


def dropout3d(x, p=0.5, training=True):
    """Channel dropout on (N, C, D, H, W) or (C, D, H, W)."""
    return _channel_dropout("dropout3d", 3, x, p, training)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=True,
               momentum=0.1, eps=1e-5):
    """Normalize over every axis but the channels (axis 1). In training, by the batch's
    statistics (standardize: one op, no overflow where the values are near the dtype's
    limit), the running ones moved toward them in place (unbiased variance)."""
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expects (N, C, ...) input, got {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.shape[0] * math.prod(x.shape[2:])         # values per channel
        if n < 2:
            raise ShapeError(f"batch_norm: training needs more than one value per channel, "
                             f"got input {x.shape}")
        if running_mean is not None:
            with ember.no_grad():
                _follow(running_mean, running_var, x.mean(axis=axes),
                        x.var(axis=axes, correction=1), momentum)
        out = standardize(ember.amp.widen(x), axes, eps)    # under autocast, in float32
    else:
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        out = (x - running_mean.reshape(shape)) / ember.sqrt(running_var.reshape(shape) + eps)
    return _channel_affine(out, weight, bias)


def _follow(running_mean, running_var, mean, var, momentum):
    """Running statistics moved ``momentum`` of the way to a batch's (in place, as
    PyTorch's: ``var`` is the unbiased variance)."""
    with ember.no_grad():
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Each sample's each channel normalized over its positions, as PyTorch's: with
    ``use_input_stats`` by its own statistics (and running ones, if given, moved toward
    their mean over the batch, the variance unbiased), else by the running ones; then a
    per-channel weight and bias."""
    if x.ndim < 3:
        raise ShapeError(f"instance_norm: input must be (N, C, ...) with at least one "
                         f"position axis, got shape {x.shape}")
    axes, c = tuple(range(2, x.ndim)), x.shape[1]
    per_channel = (c,) + (1,) * (x.ndim - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"instance_norm: {name} has shape {t.shape}, the input {c} "
                             f"channels (shape {x.shape})")
    if use_input_stats:
        n = math.prod(x.shape[2:])
        if running_mean is not None:
            if n < 2:
                raise ShapeError(f"instance_norm: running statistics need more than one "
                                 f"position per channel, got input {x.shape}")
            _follow(running_mean, running_var, x.mean(axis=axes).mean(axis=0),
                    x.var(axis=axes, correction=1).mean(axis=0), momentum)
        out = standardize(ember.amp.widen(x), axes, eps)
    elif running_mean is None:
        raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                         "running_var")
    else:
        out = (x - running_mean.reshape(per_channel)) / ember.sqrt(
            running_var.reshape(per_channel) + eps)
    return _channel_affine(out, weight, bias)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` axes of each sample."""
    normalized_shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape:
        raise ShapeError(f"layer_norm: input {x.shape} does not end in the normalized shape "
                         f"{normalized_shape}")
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    out = standardize(ember.amp.widen(x), axes, eps)     # under autocast, in float32
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


@rounds_once
def rms_norm(x, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` axes, times weight
    (as torch.nn.functional.rms_norm: eps defaults to the dtype's machine epsilon)."""
    normalized_shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape:
        raise ShapeError(f"rms_norm: input {x.shape} does not end in the normalized shape "
                         f"{normalized_shape}")
    x = ember.amp.widen(x)       # under autocast, in float32
    eps = float(ember.dtypes.finfo(x.dtype).eps) if eps is None else eps
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    if x.size:
        # each row divided by its largest magnitude first (where that passes 1, or always
        # without eps; not an infinite one, whose row is then x / inf): the squares of
        # float32 values past 1e19 (float16's past 256) overflow, and PyTorch's rms_norm
        # gives 0 for the row
        with ember.no_grad():
            m = ember.abs(x).max(axis=axes, keepdims=True)
            m = ember.maximum(m, 1.0) if eps else ember.where(m == 0, 1.0, m)
            m = ember.where(ember.isinf(m), 1.0, m)
        x = x / m
        eps = eps / (m * m) if eps else 0.0
    out = x / ember.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return out * weight if weight is not None else out


@rounds_once
def silu(x):
    """x * sigmoid(x) (swish)."""
    return x * ember.sigmoid(x)


def rotary_embedding(length, dim, base=10000.0, dtype=None, backend=None, *, frequencies=None,
                     scale=1.0):
    """(cos, sin), each (length, dim), of rotary position embeddings as LLaMA and Hugging
    Face compute them: angle p / base^(2i / dim) for position p, repeated for both halves.
    A scaled rotation (Llama 3's, YaRN's...) gives its own dim / 2 inverse ``frequencies``
    instead of base's, and ``scale`` multiplies cos and sin (YaRN's attention factor)."""
    if dim % 2:
        raise ShapeError(f"rotary_embedding: dim must be even (pairs of features rotate), "
                         f"got {dim}")
    if frequencies is None:
        frequencies = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    elif np.shape(frequencies) != (dim // 2,):
        raise ShapeError(f"rotary_embedding: frequencies must be dim / 2 = {dim // 2} numbers, "
                         f"got shape {np.shape(frequencies)}")
    angles = np.outer(np.arange(length, dtype=np.float64), frequencies)
    angles = np.concatenate([angles, angles], axis=-1)
    make = lambda a: ember.tensor(a * scale, dtype=dtype or ember.default_float,  # noqa: E731
                                  backend=backend)
    return make(np.cos(angles)), make(np.sin(angles))


def apply_rotary(x, cos, sin):
    """Rotate each position's features by its angles (LLaMA's apply_rotary_pos_emb):
    x cos + rotate_half(x) sin, with rotate_half(x) = (-x2, x1) for halves x1, x2 of the
    last axis. ``cos`` and ``sin`` (positions, dim) broadcast over x (..., positions, dim)."""
    if x.shape[-1] != cos.shape[-1] or x.shape[-2] != cos.shape[-2]:
        raise ShapeError(f"apply_rotary: input {x.shape} needs cos and sin of shape "
                         f"({x.shape[-2]}, {x.shape[-1]}), got {cos.shape}")
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return x * cos + ember.concatenate([-x2, x1], axis=-1) * sin


def embedding(indices, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by integer ``indices`` of any shape, as PyTorch's. Entries
    equal to ``padding_idx`` give their row but pass no gradient to it; with ``max_norm``
    the picked rows whose ``norm_type``-norm is larger are first scaled down to it in the
    table itself (in place, as PyTorch's embedding_renorm_); ``scale_grad_by_freq``
    divides each row's gradient by how often the batch picks it."""
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported; ember's gradients "
                         "are dense (leave sparse=False)")
    if not isinstance(indices, ember.Tensor):
        indices = ember.tensor(indices, backend=weight.backend)
    if indices.dtype.is_float or indices.dtype is ember.bool_:
        raise DTypeError(f"embedding: indices must be integers, got {indices.dtype.name}")
    if indices.backend is not weight.backend:
        raise BackendError(f"embedding: the indices are on {indices.device} and the table on "
                           f"{weight.device}; move the indices with .to({weight.device!r})")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: the table must be (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    n = weight.shape[0]
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, n, "embedding")
    picks = indices
    if not ember.is_compiling():      # a replay reads nothing back (see ember.Tensor indexing)
        picks = indices.numpy()       # read once: checked here, gathered below
        if picks.size and (picks.min() < 0 or picks.max() >= n):
            bad = picks[(picks < 0) | (picks >= n)].flat[0]
            raise IndexingError(f"embedding: index {bad} is out of range for a table of {n} "
                                f"rows; indices run from 0 to {n - 1} (negative ones do not wrap)")
    if max_norm is not None:
        with ember.no_grad():
            if ember.is_compiling():  # no host reads: the picked rows found on the device
                norms = _norm(weight, norm_type, -1)
                over = (_pick_counts(picks, weight) > 0).unsqueeze(-1) & (norms > max_norm)
                weight.copy_(weight * ember.where(over, max_norm / (norms + 1e-7), 1.0))
            else:
                old = weight[picks]
                norms = _norm(old, norm_type, -1)
                weight[picks] = old * ember.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    rows = weight[picks]
    if scale_grad_by_freq:            # the value is the row's, the gradient 1 / count of it
        share = (1.0 / _pick_counts(picks, weight)[picks]).unsqueeze(-1)
        rows = rows * share + (rows * (1.0 - share)).detach()
    if padding_idx is None:
        return rows
    padded = (indices == padding_idx).reshape(indices.shape + (1,))
    return ember.where(padded, rows.detach(), rows)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2.0,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """The sum, mean or max of each bag of ``weight``'s rows, as PyTorch's: the bags are the
    rows of a 2-D ``input``, or the runs of a 1-D ``input`` that ``offsets`` start (with
    ``include_last_offset``, its last entry, the input's length, ends the last bag: CSR's
    layout). Entries equal to
    ``padding_idx`` are left out of their bag (and of its count); an empty bag gives zeros.
    ``per_sample_weights`` (mode "sum") scales each entry's row. The bags are reduced on
    the device (index_add, scatter_reduce), so it compiles and differentiates; max's
    gradient goes to each bag's largest entry per feature."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if not isinstance(input, ember.Tensor):
        input = ember.tensor(input, backend=weight.backend)
    if input.ndim == 2:
        if offsets is not None:
            raise ShapeError("embedding_bag: a 2-D input is its own bags (one a row); give "
                             "offsets only with a 1-D input")
        bags, flat = input.shape[0], input.reshape(-1)
        members = ember.arange(bags, backend=input.backend).reshape(-1, 1)
        members = ember.broadcast_to(members, input.shape).reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ShapeError("embedding_bag: a 1-D input needs offsets, the start of each bag")
        if not isinstance(offsets, ember.Tensor):
            offsets = ember.tensor(offsets, backend=input.backend)
        if offsets.ndim != 1 or offsets.dtype.is_float:
            raise ShapeError(f"embedding_bag: offsets must be 1-D integers, got "
                             f"{offsets.dtype.name} of shape {offsets.shape}")
        if offsets.backend is not input.backend:
            raise BackendError(f"embedding_bag: the offsets are on {offsets.device} and the "
                               f"input on {input.device}; move the offsets with "
                               f".to({input.device!r})")
        bags, flat = offsets.shape[0] - (1 if include_last_offset else 0), input
        if not ember.is_compiling() and offsets.shape[0]:   # (read back to check: as embedding)
            starts = offsets.numpy()
            if starts[0] != 0 or (np.diff(starts) < 0).any() or starts[-1] > input.shape[0]:
                raise IndexingError(f"embedding_bag: offsets {starts.tolist()} must start at "
                                    f"0 and not decrease, to at most the input's "
                                    f"{input.shape[0]} entries")
            if include_last_offset and starts[-1] != input.shape[0]:
                raise IndexingError(f"embedding_bag: with include_last_offset the last offset "
                                    f"ends the last bag, so it must be the input's length "
                                    f"{input.shape[0]} (CSR's layout), got {starts[-1]}")
        positions = ember.arange(input.shape[0], dtype=offsets.dtype, backend=input.backend)
        members = ember.searchsorted(offsets, positions, side="right") - 1
    else:
        raise ShapeError(f"embedding_bag: input must be 1-D (with offsets) or 2-D (bags of "
                         f"one length), got shape {input.shape}")
    if bags < 0:
        raise ShapeError("embedding_bag: include_last_offset needs at least one offset")
    rows = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq, sparse)
    width = weight.shape[1]
    if bags == 0:
        return ember.zeros((0, width), dtype=weight.dtype, backend=weight.backend)
    keep = None if padding_idx is None else \
        (flat != _padding_index(padding_idx, weight.shape[0], "embedding_bag"))
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"embedding_bag: per_sample_weights needs mode 'sum', got {mode!r}")
        if not isinstance(per_sample_weights, ember.Tensor):
            per_sample_weights = ember.tensor(per_sample_weights, dtype=weight.dtype,
                                              backend=weight.backend)
        if per_sample_weights.shape != input.shape:
            raise ShapeError(f"embedding_bag: per_sample_weights {per_sample_weights.shape} "
                             f"must have the input's shape {input.shape}")
        rows = rows * per_sample_weights.reshape(-1, 1)
    zeros = ember.zeros((bags, width), dtype=weight.dtype, backend=weight.backend)
    counts = None
    if mode != "sum":           # each bag's entries, padding left out
        counted = ember.ones(flat.shape[0], dtype=weight.dtype, backend=weight.backend) \
            if keep is None else keep.to(weight.dtype)
        counts = ember.index_add(zeros[:, 0], 0, members, counted).unsqueeze(-1)
    if mode == "max":
        if keep is not None:
            rows = ember.where(keep.unsqueeze(-1), rows, float("-inf"))
        index = ember.broadcast_to(members.unsqueeze(-1), rows.shape)
        most = ember.scatter_reduce(zeros + float("-inf"), 0, index, rows, "amax")
        return ember.where(counts > 0, most, 0.0)
    if keep is not None:
        rows = rows * keep.to(rows.dtype).unsqueeze(-1)
    summed = ember.index_add(zeros, 0, members, rows)
    return summed if mode == "sum" else summed / ember.maximum(counts, 1.0)


def _pick_counts(picks, weight):
    """How often ``picks`` picks each row of ``weight``: a gather's adjoint (scatter_add)
    of ones, on the device."""
    with ember.enable_grad():
        ones = ember.zeros(weight.shape[0], dtype=weight.dtype, backend=weight.backend,
                           requires_grad=True)
        return ember.grad(lambda t: t[picks].sum())(ones).detach()


def _padding_index(padding_idx, n, op):
    """``padding_idx`` in [0, n), a negative one counted from the end, as PyTorch."""
    if not -n <= padding_idx < n:
        raise IndexingError(f"{op}: padding_idx {padding_idx} is out of range for a table of "
                            f"{n} rows; give one in [-{n}, {n})")
    return padding_idx % n


class _Hard(ember.Op):
    """hardsigmoid (``swish`` False) or hardswish as one op: min(max(x + 3, 0), 6) / 6,
    times x for the swish, in one pass where the backend has its own (fast_hardswish,
    fast_hardsigmoid: MobileNetV3's activations) and in four or six passes otherwise (a
    where-select for each piece took twice as long); the gradient, tensor ops, is
    PyTorch's: strictly inside (-3, 3) 1/6 and x / 3 + 1/2, outside 0, and 1 above for
    the swish."""

    __slots__ = ("swish", "dtype")

    def __init__(self, swish, dtype):
        self.swish, self.dtype = swish, dtype

    def forward(self, x):
        b = self.backend
        fast = b.fast_hardswish if self.swish else b.fast_hardsigmoid
        if fast is not None:
            return fast(x)
        k = lambda v: b.full((), v, self.dtype)      # noqa: E731
        gate = b.minimum(b.maximum(b.add(x, k(3)), k(0)), k(6))
        if not self.swish:
            return b.div(gate, k(6))
        # max(x, -3) * 0 is -0.0 below -3, as PyTorch's x * 0, and at -inf too, the
        # limit (PyTorch's -inf * 0 is NaN)
        return b.div(b.mul(b.maximum(x, k(-3)), gate), k(6))

    def backward(self, g, x):
        inside = (x > -3) & (x < 3)
        if not self.swish:
            return (ember.where(inside, g * (1 / 6), 0.0),)
        return (ember.where(inside, g * (x / 3 + 0.5), ember.where(x >= 3, g, 0.0)),)


def _hard(name, x, swish):
    if not x.dtype.is_float:
        raise DTypeError(f"{name}: needs a floating tensor, got {x.dtype.name} (as PyTorch); "
                         f"cast with .to(ember.float32)")
    return run(_Hard(swish, x.dtype), (x,), x.shape, x.dtype)


def hardsigmoid(x):
    """min(max(x + 3, 0), 6) / 6, as PyTorch's (MobileNetV3's gates): its gradient 1/6
    strictly inside (-3, 3), 0 outside and at the ends; NaN stays NaN."""
    return _hard("hardsigmoid", x, False)


@rounds_once
def hardswish(x):
    """x min(max(x + 3, 0), 6) / 6, as PyTorch's (MobileNetV3's activation): -0.0 up to
    -3 (PyTorch's x * 0), x from 3; its gradient x / 3 + 1/2 strictly inside (-3, 3), 0
    and 1 outside (PyTorch's). -inf gives -0.0, the limit (PyTorch's -inf * 0 is NaN)."""
    return _hard("hardswish", x, True)


def leaky_relu(x, negative_slope=0.01):
    return ember.where(x > 0, x, x * negative_slope)


@rounds_once
def elu(x, alpha=1.0):
    """x where x > 0, else alpha (exp(x) - 1) through expm1, as PyTorch: elu(-1e-8) is
    -1e-8 (exp(x) - 1 gave 0 there) and elu(-0.0) is -0.0."""
    return ember.where(x > 0, x, ember.expm1(_nonpositive(x)) * alpha)


def _nonpositive(x):
    """x where it is not above 0 (-0.0 and NaN as they are), else 0: what exp and expm1
    may take in a branch that where() leaves unused, with no inf in its gradient."""
    return ember.where(x > 0, 0.0, x)


@rounds_once
def celu(x, alpha=1.0):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)), as PyTorch (expm1: exact near 0)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (x / alpha)")
    return ember.where(x > 0, x, ember.expm1(_nonpositive(x) / alpha) * alpha)


#: SELU's constants (Klambauer et al. 2017), PyTorch's digits
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@rounds_once
def selu(x):
    """scale elu(x, alpha) with SELU's constants, as PyTorch."""
    return elu(x, SELU_ALPHA) * SELU_SCALE


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clamped to [min_val, max_val], as PyTorch: NaN stays NaN, x at an end stays x
    (relu6(-0.0) is -0.0); the gradient is 1 strictly inside and at NaN, 0 outside and
    at the ends (PyTorch's)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is above max_val {max_val}")
    inside = ~((x <= min_val) | (x >= max_val))
    return ember.where(inside, x, ember.where(x < min_val, min_val,
                                              ember.where(x > max_val, max_val, x.detach())))


def relu6(x):
    """min(max(x, 0), 6): hardtanh(x, 0, 6), as PyTorch."""
    return hardtanh(x, 0.0, 6.0)


@rounds_once
def mish(x):
    """x tanh(softplus(x)), as PyTorch; mish(-inf) is -0.0, the limit (PyTorch's
    -inf * 0 is NaN)."""
    y = x * ember.tanh(ember.softplus(x))
    return ember.where(x == -math.inf, -0.0, y)


class Softsign(ember.Op):
    """x / (1 + |x|) with the gradient 1 / (1 + |x|)^2 as one expression: the quotient
    rule's two terms cancel at |x| = 1e30, leaving 0 for 1e-60."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        b = self.backend
        ax = b.abs(x)
        y = b.div(x, b.add(ax, b.full((), 1, self.dtype)))
        return b.where(b.eq(ax, b.full((), math.inf, self.dtype)), b.sign(x), y)

    def backward(self, g, x):
        d = x.abs() + 1.0
        return (g / (d * d),)


@rounds_once
def softsign(x):
    """x / (1 + |x|), as PyTorch; +-inf give +-1, the limits (PyTorch's inf / inf is NaN),
    with the gradient 0 there."""
    if not x.dtype.is_float:
        x = x.to(ember.default_float)
    return run(Softsign(x.dtype), (x,), x.shape, x.dtype)


#: log(sigmoid(x)), exact in both tails (ember.log_sigmoid)
logsigmoid = ember.log_sigmoid


def softmin(x, dim):
    """softmax(-x) along ``dim``, as PyTorch (which asks for dim as well)."""
    return ember.softmax(-x, dim)


def glu(x, dim=-1):
    """a sigmoid(b), a and b the two halves of ``x`` along ``dim``, as PyTorch."""
    if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
        raise ShapeError(f"glu: dim {dim} is out of range for an input of shape {x.shape}")
    axis = dim % x.ndim
    if x.shape[axis] % 2:
        raise ShapeError(f"glu: dim {dim} of input {x.shape} has size {x.shape[axis]}; "
                         f"halving it needs an even size")
    a, b = ember.split(x, 2, axis)
    return a * ember.sigmoid(b)


def prelu(x, weight):
    """x where x > 0, else weight x, one weight per channel (axis 1; the only one where
    the input has fewer than two axes or weight has one element), as PyTorch: prelu(0)
    takes the weight's branch, NaN stays NaN."""
    if weight.ndim > 1 or (weight.size != 1 and (x.ndim < 2 or weight.size != x.shape[1])):
        raise ShapeError(f"prelu: weight of shape {weight.shape} must have one element or one "
                         f"per channel (axis 1) of the input {x.shape}")
    if weight.size != 1:
        weight = weight.reshape((-1,) + (1,) * (x.ndim - 2))
    return ember.where(x > 0, x, x * weight)


def threshold(x, threshold, value):
    """value where x <= threshold, else x (NaN stays NaN), as PyTorch."""
    return ember.where(x <= threshold, value, x)


def hardshrink(x, lambd=0.5):
    """0 where -lambd <= x <= lambd, else x (NaN stays NaN), as PyTorch."""
    return ember.where((x >= -lambd) & (x <= lambd), 0.0, x)


def softshrink(x, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0, as PyTorch; NaN stays NaN
    with gradient 1."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be at least 0, got {lambd}")
    return ember.where((x >= -lambd) & (x <= lambd), 0.0,
                       ember.where(x > lambd, x - lambd, ember.where(x < -lambd, x + lambd, x)))


def _tanh_series(terms):
    """Coefficients of x^3, x^5, ... in x - tanh(x), from Bernoulli numbers: the tail of
    tanh's series, 2^2n (2^2n - 1) B_2n / (2n)!."""
    from fractions import Fraction
    a, bernoulli = [Fraction(0)] * (2 * terms + 3), []
    for m in range(2 * terms + 3):                  # Akiyama-Tanigawa
        a[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        bernoulli.append(a[0])
    return [-float(4 ** n * (4 ** n - 1) * bernoulli[2 * n] / math.factorial(2 * n))
            for n in range(2, terms + 2)]


#: x - tanh(x) below |x| = 1/2 as 18 terms of its series, exact to float64 there
_TANHSHRINK = _tanh_series(18)


@rounds_once
def tanhshrink(x):
    """x - tanh(x), as PyTorch's values but without its cancellation near 0 (float32
    x - tanh(x) is 30% off at x = 1e-3, and 0 below 2e-4): below |x| = 1/2 the series
    x^3 / 3 - 2 x^5 / 15 + ..., exact to float64, above it the difference (at most 13
    times the rounding of tanh at 1/2, less further out)."""
    if not x.dtype.is_float:
        x = x.to(ember.default_float)
    small = ember.where(ember.abs(x) < 0.5, x, 0.0)
    square, series = small * small, 0.0
    for c in reversed(_TANHSHRINK):
        series = series * square + c
    return ember.where(ember.abs(x) < 0.5, series * square * small, x - ember.tanh(x))


#: the error function, within 3 ULP of float32
erf = special.erf


def gelu(x, approximate="none"):
    """x * Phi(x) (ember.ops.special.gelu); approximate='tanh' uses the tanh form, as
    PyTorch."""
    if approximate == "tanh":
        return gelu_tanh(x)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return special.gelu(x)


def one_hot(tensor, num_classes=-1, axis=-1, dtype=None):
    """Each class index as a row of 0s with a 1 at it, along a new ``axis``, as
    torch.nn.functional.one_hot: the backend's integer dtype (int64 but on wgpu) unless
    ``dtype`` says otherwise; ``num_classes=-1`` takes the largest index + 1. An index
    outside 0 .. num_classes - 1 is an IndexingError (eagerly: a compiled step reads
    nothing back, and gives such an index a row of zeros, as ``one_hot_mask``)."""
    _integer_indices("one_hot", tensor)
    if num_classes == -1 or (tensor.size and not ember.is_compiling()):
        if ember.is_compiling():
            raise ShapeError("one_hot: num_classes=-1 reads the largest index back, which a "
                             "compiled step cannot; pass num_classes")
        if not tensor.size:
            raise ShapeError("one_hot: cannot infer num_classes from an empty tensor; pass it")
        low, high = (int(v.item()) for v in (tensor.min(), tensor.max()))
        if num_classes == -1:
            num_classes = high + 1
        if low < 0 or high >= num_classes:
            raise IndexingError(f"one_hot: tensor holds {low if low < 0 else high}, outside the "
                                f"classes 0 to {num_classes - 1} (num_classes={num_classes}); check "
                                f"the labels, or pass the number of classes")
    return one_hot_mask(tensor, num_classes, axis, dtype or tensor.backend.default_int)


def one_hot_mask(indices, num_classes, axis=-1, dtype=ember.bool_):
    """The one-hot rows of class indices without a check, on the device, where each
    training step of a loss needs them: an index outside 0 .. num_classes - 1 gives a row
    of zeros (ONNX OneHot's rule; the losses' ignored targets)."""
    _integer_indices("one_hot", indices)
    axis = axis % (indices.ndim + 1)
    shape = [1] * (indices.ndim + 1)
    shape[axis] = num_classes
    classes = _class_range(indices.backend, num_classes, indices.dtype).reshape(shape)
    hit = indices.unsqueeze(axis) == classes
    return hit.to(dtype)


def _integer_indices(op, indices):
    if not isinstance(indices, ember.Tensor) or not indices.dtype.is_int:
        got = indices.dtype.name if isinstance(indices, ember.Tensor) else type(indices).__name__
        raise DTypeError(f"{op}: class indices must be an integer tensor, got {got}")


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample of the Gumbel-softmax (concrete) distribution over ``dim``, as PyTorch's:
    softmax((logits + g) / tau) with g = -log(E), E exponential draws from ember's seeded
    generator; ``hard`` gives the one-hot of its largest entry whose gradient is the soft
    sample's (the straight-through estimator). ``eps`` is PyTorch's, unused there too."""
    if not isinstance(logits, ember.Tensor) or not logits.dtype.is_float:
        raise DTypeError("gumbel_softmax: logits must be a float tensor")
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be > 0, got {tau}")
    uniform = ember.rand_like(logits).detach()
    # E = -log(1 - U) > 0 (U < 1); the smallest positive float keeps -log(E) finite at U = 0
    draws = ember.maximum(-ember.log1p(-uniform), float(dtypes.finfo(logits.dtype).tiny))
    soft = ember.softmax((logits - ember.log(draws)) / tau, dim)
    if not hard:
        return soft
    dim = dim % logits.ndim
    picked = one_hot_mask(soft.argmax(dim), logits.shape[dim], axis=dim, dtype=logits.dtype)
    return picked - soft.detach() + soft


_RANGES = {}


def _class_range(backend, n, dtype):
    """arange(n) on a backend, uploaded once (one-hot runs every training step)."""
    key = (backend.device, n, dtype.name)
    if key not in _RANGES:
        if len(_RANGES) > 64:
            _RANGES.clear()
        _RANGES[key] = ember.arange(n, dtype=dtype, backend=backend)
    return _RANGES[key]


from .volumetric import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d,  # noqa: E402,F401
                         conv3d, conv_transpose3d, max_pool3d)  # (F's 3-D ops)
from .pools import (fractional_max_pool2d, fractional_max_pool3d, lp_pool1d,  # noqa: E402,F401
                    lp_pool2d, lp_pool3d, max_unpool1d, max_unpool2d, max_unpool3d)

from .torch_names import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: E402,F401
                          cosine_embedding_loss, cross_entropy, ctc_loss, gaussian_nll_loss,
                          hinge_embedding_loss, huber_loss, kl_div, l1_loss, log_softmax,
                          margin_ranking_loss, mse_loss, multi_margin_loss,
                          multilabel_margin_loss, multilabel_soft_margin_loss, nll_loss,
                          poisson_nll_loss, relu, sigmoid, smooth_l1_loss, soft_margin_loss,
                          softmax, softplus, tanh, triplet_margin_loss,
                          triplet_margin_with_distance_loss)
from .linear_cross_entropy import linear_cross_entropy  # noqa: E402,F401


def _in_place(fn):
    """torch's ``F.<name>_``: ``fn`` of the input written back into it (ember's in-place
    rule: refused on a tensor that takes part in autograd)."""
    def apply(input, *args, **kwargs):  # noqa: A002  (PyTorch's name)
        return input.copy_(fn(input, *args, **kwargs))
    apply.__name__ = fn.__name__ + "_"
    apply.__doc__ = f"F.{fn.__name__} of the input, written into it (PyTorch's F.{fn.__name__}_)."
    return apply


relu_, elu_, leaky_relu_, hardtanh_, threshold_, selu_, celu_, rrelu_ = map(
    _in_place, (relu, elu, leaky_relu, hardtanh, threshold, selu, celu, rrelu))


def _with_indices(fn):
    """torch's ``F.<pool>_with_indices``: the pooling with return_indices=True."""
    def apply(input, *args, **kwargs):  # noqa: A002  (PyTorch's name)
        kwargs.pop("return_indices", None)
        return fn(input, *args, return_indices=True, **kwargs)
    apply.__name__ = fn.__name__ + "_with_indices"
    apply.__doc__ = f"F.{fn.__name__} with return_indices=True: (values, indices)."
    return apply


(max_pool1d_with_indices, max_pool2d_with_indices, max_pool3d_with_indices,
 adaptive_max_pool1d_with_indices, adaptive_max_pool2d_with_indices,
 adaptive_max_pool3d_with_indices) = map(_with_indices, (
    max_pool1d, max_pool2d, max_pool3d, adaptive_max_pool1d, adaptive_max_pool2d,
    adaptive_max_pool3d))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):  # noqa: A002
    """PyTorch's deprecated F.upsample: F.interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):  # noqa: A002
    """PyTorch's deprecated F.upsample_nearest: nearest interpolation."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):  # noqa: A002
    """PyTorch's deprecated F.upsample_bilinear: bilinear with aligned corners."""
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)


# Every public function of F refuses None for an argument without a default by name
# (ember.ops.refuses_none), before it reads an attribute of it: a forgotten return passed
# on is a DTypeError naming the function and the argument, not an AttributeError inside.
for _name, _fn in list(globals().items()):
    if not _name.startswith("_") and inspect.isfunction(_fn) and \
            _fn.__module__.startswith("ember.plugins."):
        globals()[_name] = refuses_none(_fn)
