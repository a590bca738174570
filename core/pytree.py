"""Nested containers of tensors (tuples, namedtuples, lists, dicts) as a flat list of
tensors and a structure that rebuilds them: how ember.compile passes arguments and
results, and how ember.func's transforms take and give them."""

from .tensor import Tensor


def flatten(obj, leaves):
    """obj's structure with each tensor replaced by its position in ``leaves``."""
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return ("T", len(leaves) - 1)
    if isinstance(obj, (tuple, list, dict)):   # the type itself: namedtuples come back as such
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        return (type(obj), [(k, flatten(v, leaves)) for k, v in items])
    return ("C", obj)


def unflatten(spec, leaves):
    """The structure ``spec`` (from flatten) with ``leaves`` in its tensors' places."""
    kind, body = spec
    if kind == "T":
        return leaves[body]
    if kind == "C":
        return body
    if issubclass(kind, dict):
        out = {k: unflatten(v, leaves) for k, v in body}
        return out if kind is dict else kind(out)
    items = [unflatten(v, leaves) for _, v in body]
    if kind is list or kind is tuple:
        return kind(items)
    return kind(*items) if hasattr(kind, "_fields") else kind(items)   # namedtuple or other


def tensors_of(obj):
    """The tensors in ``obj`` and its structure: (leaves, spec)."""
    leaves = []
    spec = flatten(obj, leaves)
    return leaves, spec
