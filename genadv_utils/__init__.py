"""Generative Adventures: the models, training loops, metrics and plots behind the notebooks.

The notebooks teach; this package does the work. One module per chapter, each read top to
bottom (networks with their equations, settings and profiles, training step, recipe):
``dae`` (chapter 1), ``vae`` (chapter 2), ``gan`` (chapter 3), ``vaegan`` (chapter 4, built on
the two before) and ``classifier`` (the evaluation classifier of chapters 3 to 5).

Below them, the shared plumbing: ``runtime`` (device, seeding, profiles, folders), ``data``
(datasets as in-memory tensors, batch iterator), ``noise`` (corruptions), ``losses`` (VAE terms
in nats, adversarial losses), ``blocks`` (shared network pieces and the prior noise), ``store``
(run folders, run keys, the one reader and writer of a run's files), ``training`` (the loop:
progress, history, checkpoints, snapshots, resume) and ``recipe`` (the record that each chapter
fills in: settings → build → step → train/load).

Above them: ``metrics`` (MSE, PSNR, likelihoods, classifier-feature sample metrics, …), ``latent``
and ``pca``; ``registry`` (every recipe by name), ``evaluation`` (a run's test metrics, cached in
its folder) and the command line in ``__main__``. ``plotting`` (figures in one style) and
``display`` (tables, docstrings and source in the notebook) stand apart. No import runs upward.
"""

__version__ = "0.1.0"
