"""Generative Adventures: the models, training loops, metrics and plots behind the notebooks.

The notebooks teach; this package does the work. One module per chapter, each read top to
bottom (networks with their equations, settings and profiles, training step, recipe):
``dae`` (chapter 1), ``vae`` (chapter 2), ``gan`` (chapter 3), ``vaegan`` (chapter 4, built on
the GAN's networks and sampling) and ``classifier`` (the evaluation classifier of chapters 3
to 5).

Below them, the shared plumbing: ``runtime`` (the device a command or notebook resolves once,
seeding, the faster kernels, profiles, folders), ``data`` (datasets as in-memory tensors, batch
iterator), ``noise`` (corruptions), ``losses`` (VAE and VAE-GAN terms in nats), ``blocks``
(shared network pieces and the prior noise), ``keys`` (every key, from one table of module
roles), ``store`` (run folders, the one reader and writer of a run's files), ``training`` (the
loop: progress, history, checkpoints, snapshots, resume) and ``recipe`` (the record that each
chapter fills in: settings → build → step → train/load).

Above them: ``metrics`` (MSE, PSNR, likelihoods, classifier-feature sample metrics, …; it
imports no chapter), ``latent`` and ``pca``; ``registry`` (every recipe by name), ``evaluation``
(a run's test metrics on the caller's splits, cached in its folder) and the command line in
``__main__``. ``plotting`` (figures in one style), ``display`` (tables, docstrings and source in
the notebook), ``book`` (the website's bookkeeping: glued numbers, checked sentences, published
records) and ``live`` (the in-browser panels) stand apart. No import runs upward.
"""

__version__ = "0.1.0"
