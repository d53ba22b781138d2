"""Generative Adventures: the models, training loops, metrics and plots behind the notebooks.

The notebooks teach; this package does the work. Modules, bottom to top:

- :mod:`genadv_utils.runtime`: device choice, seeding and run profiles.
- :mod:`genadv_utils.data`: MNIST and Fashion-MNIST as in-memory tensors with a fast batch iterator.
- :mod:`genadv_utils.training`: the training loop's bookkeeping (progress, history, checkpoints, resume).
- :mod:`genadv_utils.plotting`: image grids, curves, scatters and animations in one figure style.
"""

__version__ = "0.1.0"
