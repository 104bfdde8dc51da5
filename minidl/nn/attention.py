"""``nn.MultiheadAttention`` with PyTorch's parameters, layouts and masks (its boolean masks mark what is
*not* allowed: True = masked); the attention itself is ``F.attention``."""
from .. import creation, ops
from . import functional as F
from . import init
from .arguments import check_probability, refuse
from .linear import Linear
from .module import Module, Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """The output projection of MultiheadAttention: a Linear under the class name PyTorch prints for it."""


class MultiheadAttention(Module):
    """Multi-head attention as PyTorch's: parameters ``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,) and
    ``out_proj`` (or ``q/k/v_proj_weight`` when ``kdim``/``vdim`` differ from ``embed_dim``), so state dicts
    convert one to one. Inputs are (L, N, E), or (N, L, E) with ``batch_first``, or unbatched (L, E)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device="cpu", dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        check_probability("MultiheadAttention", dropout)
        refuse("MultiheadAttention", add_bias_kv=(add_bias_kv, False), add_zero_attn=(add_zero_attn, False))
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.head_dim = embed_dim // num_heads
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim

        def weight(*shape):
            return Parameter(creation.zeros(*shape, device=device, dtype=dtype))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = weight(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = weight(embed_dim, embed_dim)
            self.k_proj_weight = weight(embed_dim, self.kdim)
            self.v_proj_weight = weight(embed_dim, self.vdim)
        self.register_parameter("in_proj_bias", weight(3 * embed_dim) if bias else None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self):
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if self._parameters[name] is not None:
                init.xavier_uniform_(self._parameters[name])
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self, query, key, value):
        """(N, L, E) queries, keys and values after the input projection."""
        e = self.embed_dim
        b = self.in_proj_bias
        biases = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if not self._qkv_same_embed_dim:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        elif query is key and key is value:  # self-attention: one product for all three
            qkv = ops.linear(query, self.in_proj_weight, b)
            return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
        else:
            w = self.in_proj_weight
            weights = (w[:e], w[e:2 * e], w[2 * e:])
        return tuple(ops.linear(x, w, bias) for x, w, bias in zip((query, key, value), weights, biases))

    def _heads(self, x):
        """(N, L, E) -> (N, heads, L, head_dim)."""
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint about attn_mask; pass the causal "
                               "attn_mask itself")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (ops.unsqueeze(t, 0) for t in (query, key, value))
            key_padding_mask = None if key_padding_mask is None else ops.unsqueeze(key_padding_mask, 0)
        elif not self.batch_first:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        self._check_shapes(query, key, value)
        q, k, v = (self._heads(x) for x in self._projections(query, key, value))
        bias = self._mask_bias(attn_mask, key_padding_mask, q)
        out, weights = F.attention(q, k, v, bias, self.dropout, self.training)
        n, _, length, _ = out.shape
        out = self.out_proj(out.permute(0, 2, 1, 3).reshape(n, length, self.embed_dim))
        if unbatched:
            out = ops.squeeze(out, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, ops.squeeze(weights, 0) if unbatched else weights

    def _check_shapes(self, query, key, value):
        if query.ndim != 3 or query.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query of shape {query.shape} does not end with embed_dim "
                             f"{self.embed_dim}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0] or key.shape[-1] != self.kdim \
                or value.shape[-1] != self.vdim:
            raise ValueError(f"MultiheadAttention: key {key.shape} and value {value.shape} do not match query "
                             f"{query.shape} (kdim={self.kdim}, vdim={self.vdim})")

    def _mask_bias(self, attn_mask, key_padding_mask, q):
        """attn_mask (L, S) or (N * heads, L, S) and key_padding_mask (N, S) as one additive (., ., L, S) bias."""
        n, heads, length, _ = q.shape
        bias = None
        if attn_mask is not None:
            bias = F.attention_bias(attn_mask, q.dtype, masked_when=True)
            if bias.ndim == 3:
                if bias.shape[0] != n * heads:
                    raise ValueError(f"MultiheadAttention: a 3-D attn_mask must be (N * num_heads, L, S) = "
                                     f"({n * heads}, L, S), got {tuple(bias.shape)}")
                bias = bias.reshape(n, heads, *bias.shape[1:])
            elif bias.ndim != 2:
                raise ValueError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got {tuple(bias.shape)}")
        if key_padding_mask is not None:
            if key_padding_mask.ndim != 2 or key_padding_mask.shape[0] != n:
                raise ValueError(f"MultiheadAttention: key_padding_mask must be (N, S) with N = {n}, got "
                                 f"{tuple(key_padding_mask.shape)}")
            padding = F.attention_bias(key_padding_mask, q.dtype, masked_when=True).reshape(n, 1, 1, -1)
            bias = padding if bias is None else bias + padding
        return bias
