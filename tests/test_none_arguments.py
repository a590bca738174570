"""None where a public function takes a tensor (a forgotten return, an unset attribute) is
an ember error, or a TypeError or ValueError that begins with the function's name, never
an AttributeError or a TypeError from inside it: every public function of ember and
ember.plugins.nn.functional, given None for each argument without a default in turn, the
others being a float32 (2, 3) tensor; and every Tensor method, which may leave a plain
argument's type to Python's TypeError but never reads an attribute of None."""

import inspect

import pytest

import ember
from ember.errors import required_params
from ember.plugins.nn import functional as F

#: functions whose arguments are not tensors, or that take None on purpose
SKIP = {"compile", "fast_path", "name_state", "seed", "manual_seed", "set_printoptions", "save",
        "load", "set_default_dtype", "set_float32_matmul_precision", "info", "vmap",
        "set_grad_enabled", "set_rng_state"}


def _public(module, own=""):
    """``module``'s public functions (those of modules named ``own...`` only: F holds some
    of the core's too, under their names there)."""
    for name in sorted(dir(module)):
        fn = getattr(module, name)
        if name.startswith("_") or name in SKIP or not inspect.isfunction(fn) or \
                not fn.__module__.startswith(own):
            continue
        try:
            needed = required_params(fn)
        except (TypeError, ValueError):
            continue
        if 0 < len(needed) <= 3:
            yield f"{module.__name__.rsplit('.', 1)[-1]}.{name}", fn, len(needed)


CALLS = [pytest.param(fn, n, pos, id=f"{label}-{pos}")
         for module, own in ((ember, ""), (F, "ember.plugins."))
         for label, fn, n in _public(module, own) for pos in range(n)]


@pytest.mark.parametrize("fn,count,pos", CALLS)
def test_none_for_an_argument_is_refused_by_name(fn, count, pos):
    args = [ember.ones(2, 3)] * count
    args[pos] = None
    try:
        fn(*args)
    except ember.EmberError:
        pass
    except (TypeError, ValueError) as exc:    # a bad value of a plain argument, if named
        if not str(exc).startswith(f"{fn.__name__}:"):
            pytest.fail(f"{fn.__name__} with None as argument {pos}: {type(exc).__name__}: {exc}")
    except Exception as exc:   # noqa: BLE001  (what the test is for)
        pytest.fail(f"{fn.__name__} with None as argument {pos}: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("fn,count,pos", CALLS)
def test_a_string_or_a_list_for_an_argument_is_never_an_attribute_error_inside(fn, count, pos):
    """A str or a list where a tensor belongs (F.relu("x") read "x".dtype): an ember error
    that names the argument where the function read an attribute of it, else Python's or
    the function's TypeError or ValueError about the value, never an AttributeError."""
    for wrong in ("abc", [1.0, "x"]):
        args = [ember.ones(2, 3)] * count
        args[pos] = wrong
        try:
            fn(*args)
        except AttributeError as exc:
            pytest.fail(f"{fn.__name__} with {wrong!r} as argument {pos}: AttributeError: {exc}")
        except Exception:   # noqa: BLE001  (any other refusal is the function's to word)
            pass


def _methods():
    for name in sorted(dir(ember.Tensor)):
        attr = getattr(ember.Tensor, name)
        if name.startswith("_") or not inspect.isfunction(attr) or name in ("backward",
                                                                            "register_hook"):
            continue
        needed = [param for i, param in required_params(attr) if i]      # (not self)
        for pos in range(len(needed)):
            yield pytest.param(name, len(needed), pos, id=f"{name}-{pos}")


@pytest.mark.parametrize("name,count,pos", list(_methods()))
def test_none_for_a_methods_argument_is_never_an_attribute_error_inside(name, count, pos):
    """Tensor methods given None (x.view_as(None) read None.shape): an ember error, or
    Python's own TypeError or ValueError for a plain argument's type."""
    args = [ember.ones(2, 3)] * count
    args[pos] = None
    try:
        getattr(ember.ones(2, 3), name)(*args)
    except (ember.EmberError, TypeError, ValueError):
        pass
