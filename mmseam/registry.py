# Copyright (c) mmseam contributors. All rights reserved.
"""Registry nodes of scope ``mmseam``: children of MMSegmentation's nodes.

mmseam registers its components into MMSegmentation's registries
(``mmseg.registry``), and its configs keep ``default_scope='mmseg'``. A
config that inherits an ``mmseam::`` base, however, gets
``_scope_='mmseam'`` on the inherited ``type`` dicts (MMEngine tags what
comes from an external package with that package's scope), and MMEngine then
builds them from the registry node of scope ``mmseam``, which it finds by
importing ``mmseam.registry``.

These nodes hold no modules of their own: each is a child of the
MMSegmentation node of the same kind, so a lookup of ``'SEAM'`` or
``'LoadImageFromFile'`` falls through to MMSegmentation (where mmseam's
components are registered) and on to MMEngine's root, exactly as with
``default_scope='mmseg'``. Register new components into
``mmseg.registry`` as before.
"""
from mmengine.registry import Registry
from mmseg import registry as mmseg_registry

__all__ = list(mmseg_registry.__all__)


def _child(name: str) -> Registry:
    parent = getattr(mmseg_registry, name)
    # A child looks into its parent's registered modules but does not run
    # the parent's lazy imports (``locations``, e.g. ``mmseg.evaluation`` for
    # ``IoUMetric``): the child runs them, with mmseam's own.
    locations = ['mmseam'] + list(getattr(parent, '_locations', []))
    return Registry(
        parent.name, parent=parent, scope='mmseam', locations=locations)


RUNNERS = _child('RUNNERS')
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS')
LOOPS = _child('LOOPS')
HOOKS = _child('HOOKS')
DATASETS = _child('DATASETS')
DATA_SAMPLERS = _child('DATA_SAMPLERS')
TRANSFORMS = _child('TRANSFORMS')
MODELS = _child('MODELS')
MODEL_WRAPPERS = _child('MODEL_WRAPPERS')
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS')
OPTIMIZERS = _child('OPTIMIZERS')
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS')
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS')
METRICS = _child('METRICS')
EVALUATOR = _child('EVALUATOR')
TASK_UTILS = _child('TASK_UTILS')
VISUALIZERS = _child('VISUALIZERS')
VISBACKENDS = _child('VISBACKENDS')
LOG_PROCESSORS = _child('LOG_PROCESSORS')
INFERENCERS = _child('INFERENCERS')
