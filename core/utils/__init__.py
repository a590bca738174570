"""ember.utils: what PyTorch keeps in torch.utils and belongs in the core (checkpoint)."""

from . import checkpoint

__all__ = ["checkpoint"]
