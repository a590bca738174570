"""Hugging Face's quantized checkpoint layouts, dequantized as they load (the model then
computes in its own dtype): fine-grained FP8 (Qwen3-FP8, DeepSeek's) and MXFP4
(gpt-oss's experts)."""

import numpy as np

import ember
from ember.errors import SerializationError

#: the 16 values of a 4-bit float e2m1 (MXFP4's elements) by code, sign bit highest
FP4_E2M1 = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)
#: an e8m0 scale by code: 2^(code - 127), and 255 is NaN (the OCP MX specification)
E8M0 = np.where(np.arange(256) == 255, np.nan, np.ldexp(1.0, np.arange(256) - 127))


def dequantized(state, config, source):
    """``state`` with the quantized weights of config's ``quantization_config`` replaced
    by their values in float32."""
    quant = config.get("quantization_config")
    if not quant:
        return state
    method = quant.get("quant_method")
    if method == "fp8":
        return _fp8(state, quant.get("weight_block_size"))
    if method == "mxfp4":
        return _mxfp4(state, source)
    raise SerializationError(f"{source}: quantization {method!r} is not supported; ember reads "
                             f"Hugging Face's fine-grained fp8 and mxfp4 checkpoints and "
                             f"unquantized ones")


def _fp8(state, block):
    """``X.weight`` in float8_e4m3fn beside ``X.weight_scale_inv``, one float32 per block
    of ``block`` (rows, columns; the last blocks may be partial) or one for the tensor;
    the weight is their product."""
    out = {}
    for key, value in state.items():
        scale = state.get(key + "_scale_inv")
        if key.endswith(("_scale_inv", ".activation_scale")):
            continue
        if scale is not None:
            value, scale = value.to(ember.float32), scale.to(ember.float32)
            if block and scale.ndim == 2:
                rows, cols = value.shape
                scale = scale[ember.tensor(np.arange(rows) // block[0], backend=scale.device)]
                scale = scale[:, ember.tensor(np.arange(cols) // block[1], backend=scale.device)]
            value = value * scale
        out[key] = value
    return out


def _mxfp4(state, source):
    """``X_blocks`` (..., rows, G, 16) uint8, two e2m1 codes a byte (the low nibble
    first), beside ``X_scales`` (..., rows, G) e8m0, one per block of 32: ``X`` is
    (..., G * 32, rows), the blocks' values times their scales, transposed (as
    transformers' convert_moe_packed_tensors lays gpt-oss's experts out)."""
    out = {}
    for key, value in state.items():
        if key.endswith("_scales"):
            continue
        if not key.endswith("_blocks"):
            out[key] = value
            continue
        name = key[:-len("_blocks")]
        scales = state.get(name + "_scales")
        if scales is None or value.dtype is not ember.uint8 or scales.dtype is not ember.uint8 \
                or value.shape[:-1] != scales.shape or value.shape[-1] != 16:
            raise SerializationError(
                f"{source}: {key} {value.dtype.name}{list(value.shape)} needs {name}_scales "
                f"uint8{list(value.shape[:-1])} (mxfp4: 16 bytes of 32 codes a block)")
        device = value.device
        codes = ember.stack([value & 15, value >> 4], axis=-1).to(ember.int32)
        values = ember.tensor(FP4_E2M1, dtype=ember.float32, backend=device)[codes]
        scale = ember.tensor(E8M0, dtype=ember.float32, backend=device)[scales.to(ember.int32)]
        weight = values.reshape(*scales.shape, 32) * scale[..., None]
        out[name] = weight.reshape(*scales.shape[:-1], -1).transpose(-2, -1)
    return out
