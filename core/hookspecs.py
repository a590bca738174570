"""The hooks a plugin implements; the pluggy project and entry-point group is "ember".

Every hook returns a mapping of name -> object. Names are how EMBER_BACKEND,
config files and the CLI refer to things; a name already taken by another
plugin is a PluginError that names both packages.
"""

import pluggy

hookspec = pluggy.HookspecMarker("ember")
hookimpl = pluggy.HookimplMarker("ember")

#: the kinds of named things a plugin can contribute, one hook each
KINDS = ("backends", "layers", "models", "losses", "optimizers", "schedulers", "initializers",
         "serializers", "datasets", "metrics", "callbacks", "communicators", "functions")


@hookspec
def ember_backends():
    """Return a mapping of backend name -> ember.Backend subclass.

    The class says whether it is available here, and why not, through
    ``availability()``; an unavailable backend is listed, never imported blindly.
    """


@hookspec
def ember_layers():
    """Return a mapping of layer name -> Module subclass (activations included)."""


@hookspec
def ember_models():
    """Return a mapping of model name -> Module subclass (a whole network: GPT2).

    Like a layer, each class gives ``example()`` for the conformance suite, which
    builds it on every backend, runs forward and backward and round-trips its
    state dict.
    """


@hookspec
def ember_losses():
    """Return a mapping of loss name -> loss class or function."""


@hookspec
def ember_optimizers():
    """Return a mapping of optimizer name -> Optimizer subclass."""


@hookspec
def ember_schedulers():
    """Return a mapping of learning-rate scheduler name -> scheduler class."""


@hookspec
def ember_initializers():
    """Return a mapping of initializer name -> function(tensor shape, ...)."""


@hookspec
def ember_serializers():
    """Return a mapping of format name -> serializer; each names its file extensions."""


@hookspec
def ember_datasets():
    """Return a mapping of dataset name -> Dataset class or loader function."""


@hookspec
def ember_metrics():
    """Return a mapping of metric name -> metric class or function."""


@hookspec
def ember_callbacks():
    """Return a mapping of callback name -> training callback class."""


@hookspec
def ember_communicators():
    """Return a mapping of transport name -> Communicator class (ember.distributed).

    The class says whether it can run here through ``availability()`` and, made
    with no arguments, joins the world of processes it was started in.
    """


@hookspec
def ember_functions():
    """Return a mapping of name -> function that ``ember.<name>`` gives where the core
    has no such name: PyTorch's top-level names for what a plugin computes
    (torch.conv2d is the nn plugin's conv2d), with torch.*'s arguments."""


@hookspec
def ember_commands():
    """Return a mapping of subcommand name -> command object for the ``ember`` CLI.

    A command object has ``help`` (one line), ``add_arguments(parser)`` and
    ``run(args) -> exit status``; ``ember train`` comes this way from the
    training plugin, so the core CLI knows no plugin.
    """


@hookspec
def ember_conformance_modules():
    """Return a list of importable module names holding conformance tests.

    ``ember.testing`` collects them beside its own, so a plugin that adds a
    kind of thing (layers, say) ships the checks that every registered thing of
    that kind, third-party ones included, must pass on every backend.
    """
