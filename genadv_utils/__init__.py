"""Generative Adventures: the models, training loops, metrics and plots behind the notebooks.

The notebooks teach; this package does the work. Modules, bottom to top (no import runs upward):

- ``runtime`` (device, seeding, profiles, folders), ``noise`` (corruptions), ``losses`` (VAE terms
  in nats, adversarial losses), ``models`` (autoencoders, VAE, DCGAN, VAE-GAN, classifier), ``latent``
  (paths and grids in a latent space), ``pca`` (the linear baseline);
- ``data`` (datasets as in-memory tensors, batch iterator), ``training`` (progress, history,
  checkpoints, snapshots, resume, ``train_or_load``);
- ``metrics`` (MSE, PSNR, noise sweeps, likelihoods in nats, KL per latent dimension,
  classifier-feature sample metrics, nearest training images, sharpness, class kept);
- ``recipes`` (each chapter's settings, training step and train/load), ``evaluation``, and the
  command line in ``__main__``.

``plotting`` (figures in one style) stands apart: it imports none of the others.
"""

__version__ = "0.1.0"
