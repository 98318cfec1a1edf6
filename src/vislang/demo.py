"""``vislang demo``: the whole pipeline on the built-in scenes, on the CPU, as resumable stages.

Stages (each writes its outputs atomically and ends by writing ``RUN/stages/<name>.json``; a stage
whose marker exists is skipped, and the training stages resume from their newest checkpoint):

1. ``data``      held-out test scenes (images, references, specs) and a real-image grid;
2. ``dcgan``     unconditional DCGAN (vislang.train.gan);
3. ``cgan``      caption-conditioned GAN (frozen dual-encoder text, GAN-CLS, mode seeking: COND_OPTIONS);
4. ``captioner`` the scenes captioner (vislang.train.captioner);
5. ``generate``  unconditional images, images from the held-out captions, and noise images (baseline);
6. ``caption``   captions of the real and of the generated test images;
7. ``evaluate``  image quality/diversity, caption metrics, consistency (shipped dual encoder), each
   beside the real-vs-real floor and a degenerate baseline (see vislang.demo_eval);
8. ``report``    ``RUN/results.json``, ``RUN/report_data.json`` and ``RUN/report.html``.

Everything random is seeded by ``--seed``; the same seed and thread count give the same numbers.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

from vislang.fileio import read_json, write_json
from vislang.progress import info


@dataclasses.dataclass
class DemoConfig:
    quick: bool = False
    seed: int = 0
    gan_size: int = 32             # captioner and dual encoder read 64 px; GAN output is resized up to it
    gan_width: int = 32            # ngf = ndf (width 32 reached FID 136 at 2,000 steps; docs/benchmarks.md GAN quality)
    n_train: int = 5000            # scenes rendered for the trainers
    n_test: int = 300              # held-out test scenes (real side of every metric)
    gan_steps: int = 2000
    cgan_steps: int = 1000
    captioner_steps: int = 900     # the recipe of benchmarks/captioner_scenes.py (docs/benchmarks.md)
    extractor: str = "inception-tf"
    n_eval_images: int = 250       # images per side for FID/KID (inception-tf runs ~9 img/s on the CPU)
    threads: int = 2
    beam: int = 3
    meteor: bool = True            # when its resources are installed; the first use builds a ~110 MB cache

    @classmethod
    def make(cls, quick: bool, seed: int = 0) -> "DemoConfig":
        if not quick:
            return cls(seed=seed)
        return cls(quick=True, seed=seed, gan_size=32, gan_width=32, n_train=600, n_test=64, gan_steps=40,
                   cgan_steps=40, captioner_steps=60, extractor="mobilenet-v2", n_eval_images=64, beam=1,
                   meteor=False)


#: The conditional GAN's options (docs/gan.md, docs/benchmarks.md "GAN quality"): the frozen text tower of the
#: shipped scenes dual encoder, GAN-CLS mismatched pairs, the dual encoder's cosine for G, mode seeking; recipe BCE.
COND_OPTIONS = {"text_encoder": "dual-encoder", "mismatch": 0.5, "consistency": 1.0, "mode_seeking": 1.0}

STAGES = ("data", "dcgan", "cgan", "captioner", "generate", "caption", "evaluate", "report")


class Demo:
    def __init__(self, out: str | Path, cfg: DemoConfig):
        self.out = Path(out)
        self.cfg = cfg
        self.timings: dict[str, float] = {}

    # -- bookkeeping ---------------------------------------------------------------------
    def marker(self, name: str) -> Path:
        return self.out / "stages" / f"{name}.json"

    def done(self, name: str) -> bool:
        return self.marker(name).is_file()

    def check_config(self) -> None:
        path = self.out / "demo_config.json"
        want = dataclasses.asdict(self.cfg)
        if path.is_file():
            have = read_json(path)
            if have != want:
                from vislang.errors import ConfigError

                diff = next(k for k in want if have.get(k) != want[k])
                raise ConfigError(f"{path}: this run was made with {diff}={have.get(diff)!r}, not {want[diff]!r}; "
                                  "use another --out (or the same --quick/--seed) to resume it")
        else:
            write_json(path, want)

    def run(self) -> dict[str, Any]:
        import torch

        self.out.mkdir(parents=True, exist_ok=True)
        self.check_config()
        torch.set_num_threads(self.cfg.threads)
        steps: dict[str, Callable[[], dict[str, Any]]] = {
            "data": self.stage_data, "dcgan": lambda: self.stage_gan("dcgan", False),
            "cgan": lambda: self.stage_gan("cgan", True), "captioner": self.stage_captioner,
            "generate": self.stage_generate, "caption": self.stage_caption, "evaluate": self.stage_evaluate,
            "report": self.stage_report}
        for i, name in enumerate(STAGES, 1):
            if self.done(name):
                info(f"[{i}/{len(STAGES)}] {name}: done already ({self.marker(name)}), skipped")
                continue
            info(f"[{i}/{len(STAGES)}] {name} ...")
            wall, cpu = time.perf_counter(), time.process_time()
            meta = steps[name]() or {}
            meta.update(wall_s=round(time.perf_counter() - wall, 2), cpu_s=round(time.process_time() - cpu, 2))
            write_json(self.marker(name), meta)
            info(f"[{i}/{len(STAGES)}] {name}: {meta['wall_s']:.1f} s wall, {meta['cpu_s']:.1f} s CPU")
        return read_json(self.out / "results.json")

    # -- stages ----------------------------------------------------------------------------
    def test_scenes(self):
        from vislang.data.scenes import generate

        return generate(self.cfg.n_test, size=64, seed=self.cfg.seed, split="test")

    def stage_data(self) -> dict[str, Any]:
        from vislang.data.images import write_npz
        from vislang.demo_eval import save_grid

        s = self.test_scenes()
        d = self.out / "data"
        d.mkdir(parents=True, exist_ok=True)
        write_npz(s.images, d / "test.npz")
        write_json(d / "test_refs.json", {str(i): s.captions[i] for i in s.ids})
        save_grid(s.images[:64], d / "real_grid.png")
        return {"n_test": len(s)}

    def stage_gan(self, name: str, conditional: bool) -> dict[str, Any]:
        from vislang.train.gan import GANConfig, train
        from vislang.train.loop import RunDir

        c = self.cfg
        cfg = GANConfig(data="scenes", size=c.gan_size, steps=c.cgan_steps if conditional else c.gan_steps,
                        conditional=conditional, n_train=c.n_train, ngf=c.gan_width, ndf=c.gan_width,
                        seed=c.seed, sample_every=max((c.cgan_steps if conditional else c.gan_steps) // 4, 1),
                        ckpt_every=max(c.gan_steps // 4, 1), keep=2, log_every=10, **(COND_OPTIONS if conditional else {}))
        run = self.out / name
        resume = bool(RunDir(run).checkpoints())
        if resume:
            info(f"{name}: resuming from {RunDir(run).checkpoints()[-1][1]}")
        train(cfg, run, resume=resume, device="cpu", threads=c.threads)
        return {"steps": cfg.steps}

    def stage_captioner(self) -> dict[str, Any]:
        from vislang.train.captioner import CaptionTrainConfig, train
        from vislang.train.loop import RunDir

        c = self.cfg
        cfg = CaptionTrainConfig(out=str(self.out / "captioner"), data="scenes", size=64, n_train=c.n_train,
                                 n_val=min(200, c.n_test), steps=c.captioner_steps, val_every=max(c.captioner_steps // 3, 1),
                                 patience=0, seed=c.seed, threads=c.threads, device="cpu",
                                 warmup=min(200, c.captioner_steps // 5),
                                 # the configuration the captioner benchmark chose (CIDEr-D 3.2 in 20 CPU-minutes):
                                 d_model=128, layers=2, dropout=0.0, batch_size=32, captions_per_step=2)
        resume = bool(RunDir(cfg.out).checkpoints())
        res = train(cfg, resume=resume)
        return {"steps": c.captioner_steps, "summary": res}

    def stage_generate(self) -> dict[str, Any]:
        import torch

        from vislang.data.images import write_npz
        from vislang.demo_eval import save_grid, to64
        from vislang.train.gan_generate import generate

        c = self.cfg
        s = self.test_scenes()
        prompts = [s.captions[i][0] for i in s.ids]
        d = self.out / "generated"
        d.mkdir(parents=True, exist_ok=True)
        unc, _ = generate(self.out / "dcgan", n=c.n_test, seed=c.seed)
        cond, _ = generate(self.out / "cgan", captions=prompts, seed=c.seed)
        noise = torch.randint(0, 256, (c.n_test, 3, 64, 64), dtype=torch.uint8,
                              generator=torch.Generator().manual_seed(c.seed + 12345))
        write_npz(to64(unc), d / "unconditional.npz")
        write_npz(to64(cond), d / "conditional.npz")
        write_npz(noise, d / "noise.npz")
        write_json(d / "prompts.json", {str(i): p for i, p in zip(s.ids, prompts)})
        save_grid(to64(unc[:64]), d / "unconditional_grid.png")
        save_grid(to64(cond[:64]), d / "conditional_grid.png")
        return {"n": c.n_test}

    def stage_caption(self) -> dict[str, Any]:
        from vislang.demo_eval import load_npz
        from vislang.progress import progress
        from vislang.train.captioner import caption_batch, load_captioner

        model, vocab, meta = load_captioner(self.out / "captioner")
        s = self.test_scenes()
        out = {}
        for name, imgs in progress([("real", s.images), ("conditional", load_npz(self.out / "generated" / "conditional.npz"))],
                                   desc="captioning", unit="set"):
            caps = caption_batch(model, vocab, imgs, batch_size=64, beam=self.cfg.beam, n=1)
            out[name] = {str(i): c[0] for i, c in zip(s.ids, caps)}
        write_json(self.out / "captions.json", out)
        return {"model": str(meta.get("file")), "step": meta.get("step")}

    def stage_evaluate(self) -> dict[str, Any]:
        from vislang.demo_eval import evaluate_demo

        results, data = evaluate_demo(self)
        write_json(self.out / "report_data.json", data)
        write_json(self.out / "metrics.json", results)
        return {}

    def stage_report(self) -> dict[str, Any]:
        from vislang.metrics.base import provenance
        from vislang.report import write_report

        results = read_json(self.out / "metrics.json")
        timings = {f"{n}": read_json(self.marker(n)) for n in STAGES if self.done(n)}
        results["kind"] = "demo"
        results["report_data"] = "report_data.json"
        results["provenance"] = provenance(command="vislang demo" + (" --quick" if self.cfg.quick else ""),
                                           seed=self.cfg.seed, extractor=self.cfg.extractor,
                                           dual_encoder="scenes (shipped)", threads=self.cfg.threads,
                                           **{f"config_{k}": v for k, v in dataclasses.asdict(self.cfg).items()},
                                           **{f"stage_{k}_wall_s": v.get("wall_s") for k, v in timings.items()})
        write_json(self.out / "results.json", results)
        write_report(self.out / "results.json", self.out / "report.html")
        return {}


def run_demo(out: str | Path = "runs/demo", quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run (or resume) the demo in ``out``; returns the results dict."""
    return Demo(out, DemoConfig.make(quick, seed)).run()
