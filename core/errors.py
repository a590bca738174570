"""One error hierarchy for ember.

Each error subclasses the built-in a Python user would catch for the same
mistake, so ``except ValueError`` keeps working. Messages name the operation,
the rule broken, every shape or name involved and, where there is one, the fix.
``refuses_none`` puts that in front of a function for the commonest slip, None.
"""

import functools
import inspect


class EmberError(Exception):
    """Base of every error ember raises on purpose."""


class ShapeError(EmberError, ValueError):
    """Shapes that an operation cannot combine."""


class DTypeError(EmberError, TypeError):
    """A dtype an operation or backend does not accept."""


class BackendError(EmberError, RuntimeError):
    """An unknown or unavailable backend, or tensors on different backends."""


class PluginError(EmberError, LookupError):
    """An unknown plugin name, or two plugins claiming one name."""


class SerializationError(EmberError, ValueError):
    """A file that cannot be written or read back safely."""


class RangeError(EmberError, OverflowError):
    """A value that the target dtype cannot hold (an integer out of range, NaN or inf
    for an integer dtype): refused instead of wrapped around."""


class AutogradError(EmberError, RuntimeError):
    """Misuse of autograd: backward on a non-scalar, in-place on a graph tensor..."""


class IndexingError(EmberError, IndexError):
    """An index out of range, or an index of a kind tensors do not take."""


class StateDictError(EmberError, ValueError):
    """A state_dict whose keys do not match the module or optimizer loading it."""


class DataError(EmberError, ValueError):
    """A data file whose content cannot be read (it names the file, line and column)."""


class MutationError(EmberError, TypeError):
    """Item assignment and other mutation that ember's value tensors do not allow."""


class DistributedError(EmberError, RuntimeError):
    """A collective that cannot complete: no world joined, mismatched shapes, a rank
    that stopped or did not answer in time."""


class LinAlgError(EmberError, ValueError):
    """A matrix a linear algebra routine cannot work with: singular for an inverse or a
    solve, not positive-definite for Cholesky (torch.linalg.LinAlgError's cases)."""


def required_params(fn):
    """(position, name) of each parameter of ``fn`` that has no default and may be given
    by position."""
    return [(i, p.name) for i, p in enumerate(inspect.signature(fn).parameters.values())
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def none_refused(op, name):
    """The error for None where ``op`` needs a value for parameter ``name``."""
    return DTypeError(f"{op}: {name} is None; it has no default and needs a value (a "
                      f"function that returned nothing?)")


def refuses_none(fn):
    """``fn``, refusing None by name for each parameter it has no default for (a
    forgotten return passed on, an unset attribute) before it reads an attribute of it:
    a DTypeError that names the function and the parameter, not an AttributeError from
    inside. Cheap: one ``is None`` per such argument. An AttributeError of one of those
    arguments itself (a string or a list where a tensor belongs) becomes a DTypeError that
    names it too (AttributeError.obj tells which; Python 3.10 on)."""
    required, op = required_params(fn), fn.__name__

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        for i, name in required:
            if (args[i] if i < len(args) else kwargs.get(name, 0)) is None:
                raise none_refused(op, name)
        try:
            return fn(*args, **kwargs)
        except AttributeError as exc:       # an argument of the wrong kind, read as a tensor
            for i, name in required:
                value = args[i] if i < len(args) else kwargs.get(name)
                if value is exc.obj and value is not None:
                    raise DTypeError(f"{op}: {name} is a {type(value).__name__}; it takes a "
                                     f"tensor (ember.tensor(...) makes one)") from None
            raise
    return checked
