"""biject_to and transform_to, torch.distributions.constraint_registry's: for a constraint,
a transform from unconstrained reals onto it, so that an optimizer can work on free
parameters. biject_to's are bijections (the simplex through stick-breaking),
transform_to's may not be (the simplex through softmax). Both can be extended with
``register(constraint_or_its_class)`` as a decorator, as PyTorch's."""

from . import constraints as C
from . import transforms as T

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """Constraint (or constraint class) -> a factory of transforms from it."""

    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        if factory is None:
            return lambda f: self.register(constraint, f)
        key = constraint if isinstance(constraint, type) else type(constraint)
        self._registry[key] = factory
        return factory

    def __call__(self, constraint):
        if constraint.is_discrete:
            raise NotImplementedError(f"Cannot transform {constraint!r}: it is discrete, and no "
                                      f"transform of real numbers lands only on its points")
        for cls in type(constraint).__mro__:
            if cls in self._registry:
                return self._registry[cls](constraint)
        raise NotImplementedError(f"Cannot transform {type(constraint).__name__} constraints; "
                                  f"register a transform for it with "
                                  f"{'biject_to' if self is biject_to else 'transform_to'}"
                                  f".register")


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()

for _registry in (biject_to, transform_to):
    _registry.register(C._Real, lambda c: T.identity_transform)
    _registry.register(C._Independent, lambda c, r=_registry: T.IndependentTransform(
        r(c.base_constraint), c.reinterpreted_batch_ndims))
    _registry.register(C._GreaterThan, lambda c: T.ComposeTransform(
        [T.ExpTransform(), T.AffineTransform(c.lower_bound, 1.0)]))
    _registry.register(C._LessThan, lambda c: T.ComposeTransform(
        [T.ExpTransform(), T.AffineTransform(c.upper_bound, -1.0)]))
    _registry.register(C._Interval, lambda c: T.ComposeTransform(
        [T.SigmoidTransform(), T.AffineTransform(c.lower_bound, c.upper_bound - c.lower_bound)]))
    _registry.register(C._CorrCholesky, lambda c: T.CorrCholeskyTransform())
    _registry.register(C._Cat, lambda c, r=_registry: T.CatTransform(
        [r(part) for part in c.cseq], c.dim, c.lengths))
    _registry.register(C._Stack, lambda c, r=_registry: T.StackTransform(
        [r(part) for part in c.cseq], c.dim))

biject_to.register(C._Simplex, lambda c: T.StickBreakingTransform())
transform_to.register(C._Simplex, lambda c: T.SoftmaxTransform())
# onto, not one to one (as PyTorch's, which registers them for transform_to alone)
transform_to.register(C._LowerCholesky, lambda c: T.LowerCholeskyTransform())
transform_to.register(C._PositiveDefinite, lambda c: T.PositiveDefiniteTransform())
transform_to.register(C._PositiveSemidefinite, lambda c: T.PositiveDefiniteTransform())
