"""ViT-Tiny: a small vision transformer (Dosovitskiy et al.) for 28x28 and 8x8 images."""
from collections import OrderedDict

from .. import creation, nn, ops
from ..nn import init
from .registry import register


class PatchTokens(nn.Module):
    """(N, D, h, w) patch embeddings -> (N, 1 + h*w, D) tokens: the class token first, plus the learned
    positional embedding (torchvision's ``class_token`` and ``encoder.pos_embedding``)."""

    def __init__(self, num_patches: int, dim: int):
        super().__init__()
        self.class_token = nn.Parameter(creation.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(creation.zeros(1, num_patches + 1, dim))
        init.normal_(self.pos_embedding, std=0.02)

    def extra_repr(self):
        return f"class_token + {self.pos_embedding.shape[1] - 1} patches, dim={self.class_token.shape[2]}"

    def forward(self, x):
        n, dim = x.shape[:2]
        patches = x.reshape(n, dim, -1).permute(0, 2, 1)
        return ops.concatenate([self.class_token.expand(n, 1, dim), patches], dim=1) + self.pos_embedding


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attention(ln_1(x)), then + mlp(ln_2(x)), torchvision's names."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.self_attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class ClassTokenOutput(nn.Module):
    """(N, L, D) -> (N, D): the class token's output, which the head classifies."""

    def forward(self, x):
        return x[:, 0]


def default_patch_size(height: int, width: int) -> int:
    """The largest of 7, 4, 2, 1 dividing both sides into at least 3 patches: 7 on 28x28, 2 on 8x8."""
    return next(p for p in (7, 4, 2, 1) if height % p == 0 and width % p == 0 and min(height, width) // p >= 3
                or p == 1)


class VisionTransformer(nn.Sequential):
    """Patch embedding by a strided Conv2d, class token, learned positional embedding, ``depth`` pre-norm
    encoder blocks (LayerNorm, MultiheadAttention, LayerNorm, MLP with GELU), final LayerNorm, Linear head on
    the class token.

    A Sequential (so ``nn.checkpoint_sequential`` can cut it between blocks) whose state_dict keys are
    torchvision's VisionTransformer keys, flattened one level since a Sequential's children are its
    stages: ``conv_proj``, ``tokens.class_token`` and ``tokens.pos_embedding`` (torchvision: ``class_token``,
    ``encoder.pos_embedding``), ``encoder_layer_N.{ln_1, self_attention, ln_2, mlp.0, mlp.2}`` (torchvision:
    ``encoder.layers.encoder_layer_N.*``, its mlp has dropouts at 1 and 3), ``ln`` (``encoder.ln``) and
    ``head`` (``heads.head``). 139,018 parameters on 1x28x28 with 10 classes (patch 7, dim 64, 4 blocks,
    4 heads, MLP 128).
    """

    def __init__(self, input_shape=(1, 28, 28), num_classes=10, patch_size=None, dim=64, depth=4, num_heads=4,
                 mlp_dim=128):
        channels, height, width = input_shape
        patch = patch_size or default_patch_size(height, width)
        if height % patch or width % patch:
            raise ValueError(f"vit-tiny: patch_size {patch} does not divide the input's {height}x{width} pixels")
        blocks = [(f"encoder_layer_{i}", EncoderBlock(dim, num_heads, mlp_dim)) for i in range(depth)]
        super().__init__(OrderedDict([
            ("conv_proj", nn.Conv2d(channels, dim, patch, stride=patch)),
            ("tokens", PatchTokens((height // patch) * (width // patch), dim)),
            *blocks,
            ("ln", nn.LayerNorm(dim, eps=1e-6)),
            ("class_token_output", ClassTokenOutput()),
            ("head", nn.Linear(dim, num_classes)),
        ]))
        self.patch_size = patch


@register("vit-tiny", defaults={"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05, "lr_schedule": "cosine"},
          mnist={"epochs": 6}, fashion_mnist={"epochs": 6})
def vit_tiny(input_shape=(1, 28, 28), num_classes=10, **options) -> VisionTransformer:
    """ViT-Tiny (see ``VisionTransformer``): 139,018 parameters on 1x28x28 (patch 7; patch 2 on 8x8)."""
    return VisionTransformer(input_shape, num_classes, **options)
