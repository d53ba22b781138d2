"""The numbers the chapters' exercise solutions quote, measured with the chapters' own default
runs and code, and printed as the solutions' tables.

    GENADV_DATA=../shared/data python benchmarks/exercises.py gan   # chapter 3, exercises 2-4
    GENADV_DATA=../shared/data python benchmarks/exercises.py dae   # chapter 1, exercises 2-4
    GENADV_DATA=../shared/data python benchmarks/exercises.py vae   # chapter 2, exercises 2-4
    GENADV_DATA=../shared/data python benchmarks/exercises.py vaegan  # chapter 4, exercises 3-4
    GENADV_DATA=../shared/data python benchmarks/exercises.py comparison  # chapter 5, 1-3

Each solution names the command that printed its numbers and the machine they were measured on.
Runs are cached like the chapters' (``GENADV_RUNS``), so a chapter's own run is reloaded, not
retrained. Chapter 3's exercises 2 and 3 are small runs, repeated over three seeds: a solution
reads a difference against the spread of the seeds, not against one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F

from genadv_utils import (book, classifier, dae, data, gan, losses, metrics, runtime, vae,
                          vaegan)

SEEDS = (0, 1, 2)
"""The seeds a small-run comparison is repeated over."""

SMALL = {"train_size": 10_000, "epochs": 2}
"""Chapter 3's small runs (its ``small_train_size`` and ``small_epochs``, default profile)."""


def _spread(values: list[float], digits: int = 2) -> str:
    """``mean ± half the range`` of a few seeds' values."""
    mean = statistics.mean(values)
    half = (max(values) - min(values)) / 2
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def _late_d(history, steps: int = 50) -> tuple[float, float]:
    last = history.steps[-steps:]
    return (sum(s["d_real"] for s in last) / len(last),
            sum(s["d_fake"] for s in last) / len(last))


def smoothed_step(state, batch):
    """Chapter 3's exercise 3: one-sided label smoothing (real images towards 0.9)."""
    real, _ = batch
    net = state.modules["gan"]
    d_opt, g_opt = state.optimizers["discriminator"], state.optimizers["generator"]
    fake = net.generator(net.noise(len(real)))
    real_logits = net.discriminator(real)
    fake_logits = net.discriminator(fake.detach())
    targets = torch.full_like(real_logits, 0.9)
    d_loss = (F.binary_cross_entropy_with_logits(real_logits, targets)
              + F.softplus(fake_logits).mean())
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    g_loss = F.softplus(-net.discriminator(fake)).mean()
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    return {"d_loss": d_loss, "g_loss": g_loss, "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean()}


def _small_first(seed: int):
    """The chapter's first GAN recipe in the exercises' small size, with this seed."""
    return gan.settings("default", seed=seed, **{**gan.FIRST_RECIPE, **SMALL})


def _sample_quality(model, reference, test) -> dict:
    """The sample metrics of 10k draws of ``model`` (seed 0)."""
    images = model.sample(10_000, torch.Generator().manual_seed(0))
    return metrics.sample_quality(reference, images, test)


def gan_exercises(splits, reference) -> None:
    test = splits.test.images
    print("\nChapter 3, exercise 2: the first recipe's small runs with a faster discriminator, "
          f"seeds {SEEDS} (D averaged over the last 50 steps; 10k samples)")
    print("| discriminator learning rate | D(x) | D(G(z)) | Fréchet distance | recall |")
    print("| --- | --- | --- | --- | --- |")
    rows = {}
    for factor in (1, 5, 25):
        got = {"d_real": [], "d_fake": [], "fd": [], "recall": []}
        for seed in SEEDS:
            first = _small_first(seed)
            run = gan.train(dataclasses.replace(
                first, lr_discriminator=factor * first.lr_discriminator), splits,
                progress=False)
            d_real, d_fake = _late_d(run.history)
            quality = _sample_quality(run.model, reference, test)
            for key, value in (("d_real", d_real), ("d_fake", d_fake),
                               ("fd", quality["frechet_distance"]),
                               ("recall", quality["recall"])):
                got[key].append(value)
        rows[factor] = got
        rate = factor * gan.FIRST_RECIPE["lr_discriminator"]
        print(f"| {rate:.0e} ({factor}×) | {_spread(got['d_real'])} | {_spread(got['d_fake'])} "
              f"| {_spread(got['fd'], 0)} | {_spread(got['recall'])} |", flush=True)

    print(f"\nChapter 3, exercise 3: one-sided label smoothing, the first recipe's small runs, "
          f"seeds {SEEDS}")
    got = {"d_real": [], "fd": []}
    for seed in SEEDS:
        run = gan.train(_small_first(seed), splits, step=smoothed_step, progress=False)
        got["d_real"].append(_late_d(run.history)[0])
        got["fd"].append(_sample_quality(run.model, reference, test)["frechet_distance"])
    print(f"smoothed: D(x) {_spread(got['d_real'])}, Fréchet distance {_spread(got['fd'], 0)}; "
          f"plain (exercise 2, 1×): D(x) {_spread(rows[1]['d_real'])}, "
          f"Fréchet distance {_spread(rows[1]['fd'], 0)}", flush=True)

    print("\nChapter 3, exercise 4: the chapter's GAN with its noise scaled (10k samples)")
    net = gan.train(gan.settings("default"), splits, progress=False).model
    print("| scale | Fréchet distance | precision | recall | coverage | recognised |")
    print("| --- | --- | --- | --- | --- | --- |")
    names = splits.class_names
    for scale in (1.0, 0.75, 0.5, 0.25):
        z = scale * net.noise(10_000, torch.Generator().manual_seed(0))
        with torch.no_grad():
            images = torch.cat([net.generate(part) for part in z.split(1000)])
        q = metrics.sample_quality(reference, images, test)
        print(f"| {scale} | {q['frechet_distance']:.1f} | {q['precision']:.2f} | "
              f"{q['recall']:.2f} | {q['coverage']:.2f} | {q['recognised']:.2f} |")
        if scale == 0.25:
            with torch.no_grad():
                labels = torch.cat([reference(part).argmax(1) for part in images.split(1000)])
            shares = torch.bincount(labels.cpu(), minlength=10).float() / len(labels)
            order = shares.argsort(descending=True).tolist()
            print("  at 0.25: " + ", ".join(f"{names[c]} {100 * shares[c]:.1f} %"
                                            for c in order))


def comparison_exercises(splits, reference) -> None:
    test = splits.test.images
    generator = gan.train(gan.settings("default"), splits, progress=False).model
    fakes = metrics.sample_in_batches(generator, 10_000, torch.Generator().manual_seed(0))
    print("\nChapter 5, exercise 1: the metrics against the number of samples")
    print("| samples | GAN: distance | GAN: coverage | training images: distance | "
          "training images: coverage |")
    print("| --- | --- | --- | --- | --- |")
    for n in (500, 1000, 2000, 5000, 10_000):
        g = metrics.sample_quality(reference, fakes[:n], test)
        r = metrics.sample_quality(reference, splits.train.images[:n], test)
        print(f"| {n:,} | {g['frechet_distance']:.1f} | {g['coverage']:.3f} | "
              f"{r['frechet_distance']:.1f} | {r['coverage']:.3f} |", flush=True)

    print("\nChapter 5, exercise 2: median distance to the nearest training image (1000 each)")
    for name, images in (("copies", splits.train.images[:1000]), ("GAN", fakes[:1000]),
                         ("test digits", test[:1000])):
        distance, _ = metrics.nearest_images(images, splits.train.images, k=1)
        print(f"  {name}: {distance.median().item():.2f}")

    print("\nChapter 5, exercise 3: the VAE's samples, and the same rounded to 0 or 1")
    model = vae.train(vae.settings("default"), splits, progress=False).model
    soft = metrics.sample_in_batches(model, 10_000, torch.Generator().manual_seed(0))
    for name, images in (("soft", soft), ("rounded", (soft > 0.5).float())):
        q = metrics.sample_quality(reference, images, test)
        print(f"  {name}: Fréchet distance {q['frechet_distance']:.1f} | precision "
              f"{q['precision']:.2f} | recall {q['recall']:.2f} | coverage {q['coverage']:.2f} "
              f"| sharpness {metrics.sharpness(images):.4f}")


def vaegan_exercises(splits, reference) -> None:
    test = splits.test
    models = {"VAE": vae.train(vae.settings("default"), splits, progress=False).model.eval(),
              "VAE-GAN": vaegan.train(vaegan.settings("default"), splits,
                                      progress=False).model.eval()}
    print("\nChapter 4, exercise 3: active units and KL on the test images")
    for name, model in models.items():
        kl = metrics.kl_per_dimension(model, test.images)
        print(f"  {name}: {metrics.active_units(model, test.images)} of {len(kl)} active, "
              f"KL {kl.sum():.1f} nats")

    print("\nChapter 4, exercise 4: images between two test digits of different classes "
          "classified as a third digit")
    index = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:400]
    a, b = index[:200], index[200:]
    keep = test.labels[a] != test.labels[b]
    a, b = a[keep], b[keep]
    for name, model in models.items():
        with torch.no_grad():
            start, end = model.encode(test.images[a])[0], model.encode(test.images[b])[0]
            first = reference(test.images[a]).argmax(1)
            last = reference(test.images[b]).argmax(1)
            third = 0
            for t in torch.linspace(0, 1, 10)[1:-1]:  # the 8 images between the ends
                z = (1 - t) * start + t * end
                x = (torch.sigmoid(model.decode(z)) if name == "VAE"  # the VAE's are logits
                     else model.generate(z))  # the VAE-GAN's decoder average
                guess = reference(x).argmax(1)
                third += int(((guess != first) & (guess != last)).sum())
        print(f"  {name}: {third / (8 * len(a)):.1%} of the images on {len(a)} paths")


def dae_exercises(splits) -> None:
    test = splits.test.images
    chapter = dae.train(dae.settings("default"), splits, progress=False).model
    weak = dae.train(dae.settings("default", level=0.25), splits, progress=False).model
    levels = [0.1, 0.25, 0.5, 0.8]
    print("\nChapter 1, exercise 2: PSNR (dB) on Gaussian noise at sigma " + str(levels))
    sweep = metrics.noise_sweep({"sigma = 0.25 model": weak, "sigma = 0.5 model": chapter},
                                test, "gaussian", levels)
    for name, mses in sweep.items():
        print(f"  {name}: " + " / ".join(f"{metrics.psnr(m):.1f}" for m in mses))
    print("\nChapter 1, exercise 3: PSNR (dB) at sigma = 0.5 by code size")
    for size in (2, 64, 1024):
        model = dae.train(dae.settings("default", code_size=size), splits,
                          progress=False).model
        mse = metrics.noise_sweep({"m": model}, test, "gaussian", [0.5])["m"][0]
        print(f"  code size {size}: {metrics.psnr(mse):.1f}", flush=True)
    masked = dae.train(dae.settings("default", noise="masking"), splits, progress=False).model
    print("\nChapter 1, exercise 4: PSNR (dB) at level 0.5")
    for kind in ("masking", "gaussian"):
        sweep = metrics.noise_sweep({"masking-trained": masked, "Gaussian-trained": chapter},
                                    test, kind, [0.5])
        print(f"  on {kind}: " + ", ".join(f"{k} {metrics.psnr(v[0]):.1f}"
                                           for k, v in sweep.items()))


def vae_exercises(splits) -> None:
    test = splits.test.images
    print("\nChapter 2, exercises 2 and 3: the default recipe with another beta or latent size "
          "(test images)")
    print("| run | negative ELBO | reconstruction | KL | active units |")
    print("| --- | --- | --- | --- | --- |")
    for label, change in (("d = 16, beta = 1 (the chapter's)", {}), ("beta = 4", {"beta": 4.0}),
                          ("d = 2", {"latent_size": 2}), ("d = 8", {"latent_size": 8}),
                          ("d = 64", {"latent_size": 64})):
        model = vae.train(vae.settings("default", **change), splits,
                          progress=False).model.eval()
        torch.manual_seed(0)
        with torch.no_grad():
            elbo = losses.negative_elbo(model, test)
        print(f"| {label} | {elbo['neg_elbo']:.1f} | {elbo['rec']:.1f} | {elbo['kl']:.1f} | "
              f"{metrics.active_units(model, test)} |", flush=True)

    print("\nChapter 2, exercise 4: free bits (0.5 nats a dimension) at beta = 16, the "
          "chapter's small runs")

    def free_bits_step(state, batch, floor=0.5, beta=16.0):
        images, _ = batch
        model, optimizer = state.modules["vae"], state.optimizers["vae"]
        logits, mu, logvar = model(images)
        rec = losses.bernoulli_nll(logits, images).mean()
        kl_dims = losses.gaussian_kl(mu, logvar).mean(0)
        loss = rec + beta * torch.clamp(kl_dims, min=floor).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss, "rec": rec, "kl": kl_dims.sum()}

    small = vae.settings("default", beta=16.0, train_size=10_000, epochs=2)
    for label, step in (("plain step", None), ("free bits", free_bits_step)):
        model = vae.train(small, splits, step=step, progress=False).model.eval()
        torch.manual_seed(0)
        with torch.no_grad():
            elbo = losses.negative_elbo(model, test)
        kl = metrics.kl_per_dimension(model, test)
        print(f"  {label}: KL {elbo['kl']:.2f} nats (dimensions above 0.1 nats: "
              f"{int((kl > 0.1).sum())}), negative ELBO {elbo['neg_elbo']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", choices=["gan", "dae", "vae", "vaegan", "comparison"])
    args = parser.parse_args()
    splits = data.load_splits("mnist", device=runtime.pick_device())
    started = time.perf_counter()
    print(f"{book.machine()}, torch {torch.__version__}")
    if args.chapter in ("gan", "vaegan", "comparison"):
        reference = classifier.train(classifier.settings("default"), splits,
                                     progress=False).model.eval()
        {"gan": gan_exercises, "vaegan": vaegan_exercises,
         "comparison": comparison_exercises}[args.chapter](splits, reference)
    elif args.chapter == "dae":
        dae_exercises(splits)
    else:
        vae_exercises(splits)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
