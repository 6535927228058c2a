"""``nn.dot_product_attention``: scaled dot-product attention, JAX's XLA implementation.

Shapes follow JAX: query ``(B, T, N, H)``, key and value ``(B, S, K, H)`` with ``N`` a
multiple of ``K`` (grouped-query attention: each of the ``K`` key/value heads serves
``G = N // K`` query heads). Leading dimensions may be left out (3-d inputs get a
batch of one). The logits are computed in at least float32, masked with a large
negative number, soft-maxed in float32 and cast back to the key's dtype."""

from __future__ import annotations

import numpy as np

from .. import dtypes, lax
from .. import numpy as jnp
from ..numpy._util import as_array, as_operand, dtype_of, shape_of
from .functions import logsumexp, softmax

__all__ = ["dot_product_attention"]


def _ensure_4d(t):
    t = jnp.asarray(t)
    missing = 4 - len(shape_of(t))
    return jnp.expand_dims(t, tuple(range(missing))) if missing > 0 else t


def _check(t, shape, dtype, name):
    if t is None:
        return
    tshape = shape_of(t)
    if len(tshape) != len(shape):
        raise ValueError(f"{name} ndim should be {len(shape)}, but got {len(tshape)}")
    if dtype is not None and dtype_of(t) != dtype:
        raise ValueError(f"{name} dtype should be {dtype}, but got {dtype_of(t)}")
    for want, got in zip(shape, tshape):
        if want != -1 and got != want:
            raise ValueError(f"{name} shape should be {tuple(shape)}: but got {tuple(tshape)}")


def _large_negative(dtype):
    """-0.7 times the dtype's largest value (capped at float32's), JAX's mask value."""
    big = min(float(dtypes.finfo(dtype).max), float(np.finfo(np.float32).max))
    return jnp.asarray(-0.7 * big, dtype=dtype)


def _grouped(t, batch, k, g):
    """A ``(tB, N or 1, tT, tS)`` bias/mask as ``(tB, K or 1, G or 1, tT, tS)``."""
    if t is None:
        return None
    tb, tn, tt, ts = shape_of(t)
    if tn == 1:
        return jnp.reshape(t, (tb, 1, 1, tt, ts))
    return jnp.reshape(t, (tb, k, g, tt, ts))


def _combined_mask(shape, mask, is_causal, q_seqlen, kv_seqlen, window):
    """Everything that hides logits, as one boolean array broadcastable to ``shape``
    (B, K, G, T, S); None when nothing is masked."""
    t, s = shape[-2], shape[-1]
    parts = [] if mask is None else [mask]
    if is_causal:
        parts.append(jnp.tril(jnp.ones((t, s), dtype=bool)))
    if window is not None:
        left, right = window
        q_pos = jnp.arange(t)[:, None]
        k_pos = jnp.arange(s)[None, :]
        parts.append(
            jnp.logical_and(
                jnp.greater_equal(q_pos, jnp.subtract(k_pos, right)),
                jnp.less_equal(q_pos, jnp.add(k_pos, left)),
            )
        )
    if q_seqlen is not None or kv_seqlen is not None:
        pad = True
        if q_seqlen is not None:
            pad = jnp.less(jnp.arange(t)[None, :, None], q_seqlen[:, None, None])
        if kv_seqlen is not None:
            pad = jnp.logical_and(
                pad, jnp.less(jnp.arange(s)[None, None, :], kv_seqlen[:, None, None])
            )
        parts.append(jnp.reshape(pad, (shape_of(pad)[0], 1, 1) + shape_of(pad)[1:]))
    if not parts:
        return None
    out = jnp.ones(shape, dtype=bool)
    for p in parts:
        out = jnp.logical_and(out, p)
    return out


def _attention_xla(query, key, value, bias, mask, is_causal, scale, q_seqlen, kv_seqlen,
                   window, return_residual):  # fmt: skip
    b, t, n, h = shape_of(query)
    _, s, k, _ = shape_of(key)
    g = n // k
    query = jnp.reshape(query, (b, t, k, g, h))
    qdt = dtype_of(query)
    logits_dtype = jnp.promote_types(qdt, np.float32)
    logits = jnp.einsum("BTKGH,BSKH->BKGTS", query, key, preferred_element_type=logits_dtype)
    logits = jnp.multiply(logits, jnp.array(scale, dtype=dtype_of(logits)))
    if bias is not None:
        logits = jnp.add(logits, _grouped(bias, b, k, g)).astype(dtype_of(logits))
    combined = _combined_mask(
        shape_of(logits), _grouped(mask, b, k, g), is_causal, q_seqlen, kv_seqlen, window
    )
    if combined is not None:
        logits = jnp.where(combined, logits, _large_negative(dtype_of(logits)))
    logits = logits.astype(np.float32)
    probs = softmax(logits, axis=-1).astype(dtype_of(key))
    encoded = jnp.einsum("BKGTS,BSKH->BTKGH", probs, value)
    if q_seqlen is not None:
        keep = jnp.less(jnp.arange(t)[None, :], q_seqlen[:, None])
        encoded = jnp.multiply(encoded, keep[:, :, None, None, None].astype(dtype_of(encoded)))
    encoded = jnp.reshape(encoded, (b, t, n, h))
    if not return_residual:
        return encoded
    lse = logsumexp(logits, axis=-1).astype(dtype_of(key))  # B K G T
    lse = jnp.reshape(jnp.transpose(lse, (0, 3, 1, 2)), (b, t, n))
    return encoded, lax.stop_gradient(lse)


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    *,
    scale=None,
    is_causal=False,
    query_seq_lengths=None,
    key_value_seq_lengths=None,
    local_window_size=None,
    implementation=None,
    return_residual=False,
):
    """``softmax(scale * Q K^T + bias, masked) V`` per head.

    ``mask`` (boolean, True keeps), ``is_causal``, ``query_seq_lengths`` /
    ``key_value_seq_lengths`` (int32 per batch element: padding), and
    ``local_window_size`` (``w`` or ``(left, right)``: a sliding window) all combine;
    ``scale`` defaults to ``1 / sqrt(H)``. Only ``implementation=None`` or ``'xla'``
    exist here (``'cudnn'`` is cuDNN's fused kernel)."""
    output_shape = shape_of(as_array(as_operand(query)))
    q, k_arr, v = _ensure_4d(query), _ensure_4d(key), _ensure_4d(value)
    bias = _ensure_4d(bias) if bias is not None else None
    mask = _ensure_4d(mask) if mask is not None else None
    if query_seq_lengths is not None:
        query_seq_lengths = jnp.asarray(query_seq_lengths)
    if key_value_seq_lengths is not None:
        key_value_seq_lengths = jnp.asarray(key_value_seq_lengths)
    if isinstance(local_window_size, int):
        local_window_size = (local_window_size, local_window_size)
    b, s, kh, h = shape_of(k_arr)
    _check(v, [b, s, kh, h], dtype_of(k_arr), "value")
    _check(q, [b, -1, -1, h], dtype_of(k_arr), "query")
    _check(mask, [-1] * 4, np.dtype(bool), "mask")
    _check(bias, [-1] * 4, None, "bias")
    _check(query_seq_lengths, [b], np.dtype("int32"), "query_seq_lengths")
    _check(key_value_seq_lengths, [b], np.dtype("int32"), "key_value_seq_lengths")
    if shape_of(q)[-2] % kh != 0:
        raise ValueError(
            "The number of query heads must be a multiple of key/value heads, but got "
            f"{shape_of(q)[-2]} vs {kh}"
        )
    scale_val = (1.0 / np.sqrt(h)) if scale is None else scale
    if implementation == "cudnn":
        raise NotImplementedError(
            "dot_product_attention(implementation='cudnn') needs cuDNN's fused attention "
            "kernel, which this engine does not lower to; use implementation=None or 'xla'"
        )
    if implementation not in (None, "xla"):
        raise ValueError(f"Unsupported implementation option: {implementation}")
    out = _attention_xla(
        q, k_arr, v, bias, mask, is_causal, scale_val, query_seq_lengths,
        key_value_seq_lengths, local_window_size, return_residual,
    )  # fmt: skip
    if return_residual:
        out, residual = out
        return jnp.reshape(out, output_shape), jnp.reshape(residual, output_shape[:-1])
    return jnp.reshape(out, output_shape)
