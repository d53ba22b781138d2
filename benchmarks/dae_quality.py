"""Chapter 1's quality target: the default DAE against the best PCA denoiser.

On the MNIST test set (10k images, corrupted once with a fixed seed), Gaussian noise of standard
deviation 0.5 clipped to [0, 1]: the DAE's PSNR should beat the best PCA denoiser (components
chosen on the validation split) by at least 4 dB. Salt-and-pepper noise with p = 0.5 is reported
too. Trains the default DAE, or reloads it if the book (or `python -m genadv_utils train dae`)
already did.

    GENADV_DATA=../shared/data python benchmarks/dae_quality.py
"""

from __future__ import annotations

import argparse
import time

from genadv_utils import dae, data, metrics, noise, pca, runtime

TARGET_DB = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=runtime.PROFILES, default="default")
    parser.add_argument("--pca-images", type=int, default=20_000)
    args = parser.parse_args()

    settings = dae.settings(args.profile)
    splits = data.load_splits(settings.dataset, device=runtime.pick_device())
    start = time.perf_counter()
    run = dae.train(settings, splits)
    print(f"DAE: {settings}")
    print(f"  run {run.folder} ({run.history.seconds:.0f} s of training; "
          f"{time.perf_counter() - start:.0f} s to train or load here)")

    fitted = pca.fit_pca(splits.train.images[:args.pca_images])
    for kind, level in (("gaussian", 0.5), ("salt-and-pepper", 0.5)):
        val_noisy = noise.corrupt(splits.val.images, kind, level,
                                  noise.seeded(dae.VALIDATION_NOISE_SEED))
        k, _ = pca.choose_k(fitted, val_noisy, splits.val.images, pca.K_CANDIDATES)
        sweep = metrics.noise_sweep({"pca": lambda x, k=k: pca.reconstruct(fitted, x, k),
                                     "dae": run.model}, splits.test.images, kind, [level])
        scores = {name: metrics.psnr(values[0]) for name, values in sweep.items()}
        gain = scores["dae"] - scores["pca"]
        verdict = f"target +{TARGET_DB:.0f} dB: {'met' if gain >= TARGET_DB else 'NOT met'}"
        print(f"{kind} {level}: noisy {scores['noisy input']:.2f} dB | PCA (k = {k}) "
              f"{scores['pca']:.2f} dB | DAE {scores['dae']:.2f} dB | DAE - PCA {gain:+.2f} dB"
              + (f" ({verdict})" if kind == "gaussian" else ""))


if __name__ == "__main__":
    main()
