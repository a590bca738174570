"""torch.nn.utils' names: gradient clipping (ember.plugins.optim's) and a model's
parameters as one flat vector and back."""

import ember
from ember.errors import ShapeError
from ember.plugins.optim.clip import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Every parameter flattened and joined, in order, into one 1-D tensor."""
    return ember.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into ``parameters`` (outside autograd), as
    parameters_to_vector laid them out."""
    parameters = list(parameters)
    total = sum(p.size for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ShapeError(f"vector_to_parameters: a vector of {total} values fits these "
                         f"parameters, got shape {vec.shape}")
    with ember.no_grad():
        start = 0
        for p in parameters:
            p.copy_(vec[start:start + p.size].reshape(p.shape))
            start += p.size
