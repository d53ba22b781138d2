"""Chapter 4's quality targets: the default VAE-GAN against the default VAE of chapter 2.

Trains (or reloads) the default runs of both, then scores, once, on the 10k MNIST test images
(the recipes were chosen before) and in the evaluation classifier's features:

- 10k prior samples of each: the classifier-feature Fréchet distance (target: the VAE-GAN's is
  lower than the VAE's), precision, recall and coverage;
- the reconstructions of the test images: pixel MSE, sharpness, and the share that keep their
  class under the classifier (target: at least 95 % for the VAE-GAN).

    GENADV_DATA=../shared/data python benchmarks/vaegan_quality.py
"""

from __future__ import annotations

from genadv_utils import data, evaluation, vae, vaegan

TARGET_CLASS_KEPT = 0.95


def main() -> None:
    splits = data.load_splits("mnist")
    classifier = evaluation.reference_classifier(splits, progress=False)
    vae_run = vae.train(vae.settings("default"), splits, progress=False)
    vaegan_run = vaegan.train(vaegan.settings("default"), splits, progress=False)
    print(f"VAE: {vae_run.folder.name}, {vae_run.history.seconds:.0f} s of training\n"
          f"VAE-GAN: {vaegan.settings('default')}\n"
          f"  {vaegan_run.folder.name}, {vaegan_run.history.seconds:.0f} s of training\n"
          f"classifier: {classifier.folder.name}\n")
    scores = {
        "VAE": {**evaluation.evaluate_generator(vae_run, splits, split="test",
                                                classifier=classifier),
                **evaluation.reconstruction_quality(vae_run, splits, split="test",
                                                    classifier=classifier)},
        "VAE-GAN": evaluation.evaluate(vaegan_run, splits, split="test", classifier=classifier),
    }
    print(f"{'model':8} | {'Fréchet':>8} | {'coverage':>8} | {'precision':>9} | {'recall':>6} | "
          f"{'rec. MSE':>8} | {'sharpness':>9} | {'class kept':>10}")
    for name, s in scores.items():
        print(f"{name:8} | {s['frechet_distance']:8.1f} | {s['coverage']:8.3f} | "
              f"{s['precision']:9.3f} | {s['recall']:6.3f} | {s['reconstruction_mse']:8.4f} | "
              f"{s['reconstruction_sharpness']:9.4f} | {s['reconstruction_class_kept']:10.2%}")
    print(f"(test digits' own sharpness: {scores['VAE']['original_sharpness']:.4f})")
    ours, theirs = scores["VAE-GAN"], scores["VAE"]
    lower = ours["frechet_distance"] < theirs["frechet_distance"]
    kept = ours["reconstruction_class_kept"] >= TARGET_CLASS_KEPT
    print(f"target: VAE-GAN samples closer than the VAE's: {'met' if lower else 'NOT met'} "
          f"({ours['frechet_distance']:.1f} vs {theirs['frechet_distance']:.1f})")
    print(f"target: at least {TARGET_CLASS_KEPT:.0%} of VAE-GAN reconstructions keep their "
          f"class: {'met' if kept else 'NOT met'} ({ours['reconstruction_class_kept']:.2%})")


if __name__ == "__main__":
    main()
