"""torch.nn.utils.parametrize and its parametrizations: a module's tensor (its weight)
computed on every access from other parameters, with PyTorch's state-dict keys
(``parametrizations.weight.original0``, ``...original1``, ``...0._u``).

register_parametrization moves the tensor into ``module.parametrizations[name]`` as
``original`` (or ``original0``, ``original1``... when the parametrization's
right_inverse returns several) and gives the module a subclass of its class whose
``name`` is a property: reading it runs the parametrizations in order, assigning to it
runs their right_inverses. weight_norm and spectral_norm (ember.plugins.nn.utils's
parametrizations) are such modules; the older nn.utils.weight_norm keeps PyTorch's
``weight_g`` and ``weight_v`` on the module itself."""

import ember
from ember.errors import ShapeError

from .module import Module, ModuleDict, ModuleList, Parameter

class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, in order, and its original(s)."""

    def __init__(self, modules, original):
        super().__init__(modules)
        first = modules[0]
        with ember.no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tuple = isinstance(new, tuple)
        if self.is_tuple:
            for k, t in enumerate(new):
                setattr(self, f"original{k}", Parameter(t.detach(), original.requires_grad))
        else:
            self.original = Parameter(new.detach(), original.requires_grad)

    def originals(self):
        if self.is_tuple:
            return tuple(self._parameters[f"original{k}"] for k in
                         range(sum(n.startswith("original") for n in self._parameters)))
        return (self.original,)

    def forward(self):
        modules = list(self._modules.values())
        x = modules[0](*self.originals())
        for m in modules[1:]:
            x = m(x)
        return x

    def right_inverse(self, value):
        """Set the originals so that the parametrized tensor becomes ``value``."""
        with ember.no_grad():
            for m in reversed(list(self._modules.values())[1:]):
                value = m.right_inverse(value) if hasattr(m, "right_inverse") else value
            first = list(self._modules.values())[0]
            new = first.right_inverse(value) if hasattr(first, "right_inverse") else value
            for target, v in zip(self.originals(), new if self.is_tuple else (new,)):
                target.copy_(v)


def _own_class(module):
    """The module's class, made its own subclass the first time (as PyTorch does), so
    that properties set on it reach this module only."""
    cls = type(module)
    if not hasattr(cls, "_parametrized_base"):
        cls = type(f"Parametrized{cls.__name__}", (cls,), {"__module__": cls.__module__,
                                                           "_parametrized_base": cls})
        object.__setattr__(module, "__class__", cls)
    return cls


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """``module.<tensor_name>`` becomes parametrization(original) on each access."""
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    original = module._parameters.get(tensor_name, module._buffers.get(tensor_name))
    if original is None:
        raise ShapeError(f"register_parametrization: {type(module).__name__} has no parameter "
                         f"or buffer {tensor_name!r}")
    delattr(module, tensor_name)
    if "parametrizations" not in module._modules:
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], original)
    setattr(_own_class(module), tensor_name, property(
        lambda self: self.parametrizations[tensor_name](),
        lambda self, value: self.parametrizations[tensor_name].right_inverse(value)))
    return module


def is_parametrized(module, tensor_name=None):
    plist = module._modules.get("parametrizations")
    if plist is None:
        return False
    return tensor_name is None or tensor_name in plist._modules


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo register_parametrization: the tensor becomes a plain parameter again, holding
    its parametrized value (or, with leave_parametrized=False, its original)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: {type(module).__name__} has no "
                         f"parametrization on {tensor_name!r}")
    plist = module.parametrizations[tensor_name]
    with ember.no_grad():
        value = plist() if leave_parametrized else plist.originals()[0]
    del module.parametrizations[tensor_name]
    delattr(type(module), tensor_name)
    if not len(module.parametrizations._modules):
        del module.parametrizations
        object.__setattr__(module, "__class__", type(module)._parametrized_base)
    setattr(module, tensor_name, Parameter(value.detach()))
    return module


# -- the parametrizations ------------------------------------------------------------------
def _norm_except(v, dim):
    """||v|| over every axis but ``dim``, kept; over all of them (0-d, as PyTorch's g)
    for dim None or -1."""
    if dim is None or dim == -1:
        return ember.sqrt((v * v).sum())
    axes = tuple(a for a in range(v.ndim) if a != dim % v.ndim)
    return ember.sqrt((v * v).sum(axes, keepdims=True)) if axes else ember.abs(v)


class _WeightNorm(Module):
    """weight = g v / ||v||, the norm over every axis but ``dim``."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """torch.nn.utils.parametrizations.weight_norm: ``name`` as g v / ||v|| (keys
    parametrizations.<name>.original0 = g and original1 = v)."""
    return register_parametrization(module, name, _WeightNorm(dim))


def _normalized(x, eps):
    return x / ember.clamp(ember.sqrt((x * x).sum()), eps, None)


class _SpectralNorm(Module):
    """weight / sigma, sigma the largest singular value of the weight as a matrix (``dim``
    first, the rest flattened), estimated by power iteration on buffers _u and _v, which
    each training-mode access advances n_power_iterations steps (without gradients)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got "
                             f"{n_power_iterations}")
        self.dim = dim % weight.ndim if weight.ndim > 1 else 0
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if weight.ndim > 1:
            matrix = self._matrix(weight)
            h, w = matrix.shape
            be = dict(dtype=weight.dtype, backend=weight.backend)
            self.register_buffer("_u", _normalized(ember.randn(h, **be), eps))
            self.register_buffer("_v", _normalized(ember.randn(w, **be), eps))
            self._power(matrix.detach(), 15)

    def _matrix(self, weight):
        moved = ember.movedim(weight, self.dim, 0) if self.dim else weight
        return moved.reshape(moved.shape[0], -1)

    def _power(self, matrix, steps):
        with ember.no_grad():
            for _ in range(steps):
                self._u.copy_(_normalized(matrix @ self._v, self.eps))
                self._v.copy_(_normalized(matrix.mT @ self._u, self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return _normalized(weight, self.eps)
        matrix = self._matrix(weight)
        if self.training:
            self._power(matrix.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * (matrix @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """torch.nn.utils.parametrizations.spectral_norm: ``name`` divided by its spectral
    norm (keys parametrizations.<name>.original, ...0._u, ...0._v); dim defaults to 1
    for the transposed convolutions, else 0."""
    weight = getattr(module, name)
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations,
                                                                dim, eps))


def legacy_weight_norm(module, name="weight", dim=0):
    """torch.nn.utils.weight_norm (the older form): ``name`` computed from the module's
    own parameters ``<name>_g`` and ``<name>_v``, PyTorch's keys in older checkpoints."""
    weight = module._parameters.get(name)
    if weight is None:
        raise ShapeError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
    norm = _WeightNorm(dim)
    g, v = norm.right_inverse(weight.detach())
    delattr(module, name)
    setattr(module, f"{name}_g", Parameter(g))
    setattr(module, f"{name}_v", Parameter(v))
    setattr(_own_class(module), name, property(lambda self: norm(getattr(self, f"{name}_g"),
                                                                 getattr(self, f"{name}_v"))))
    return module
