"""A random share of a chip dataset's training chips, for accuracy against data size.

    uv run python benchmarks/subset_dataset.py runs/abl4k/data_new runs/abl4k/data_new_25 --share 0.25

The new folder links (symlinks) to a random `--share` of the training chips and their labels,
and to every validation chip, so that runs trained on it differ from the full set's only in how
many distinct training chips they can see. dataset.yaml is copied with its path and counts
updated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from debrismap.train.dataset import label_path_for, list_images


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="dataset folder with dataset.yaml")
    ap.add_argument("out", type=Path)
    ap.add_argument("--share", type=float, required=True, help="share of the training chips to keep, (0, 1]")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not 0 < args.share <= 1:
        raise SystemExit("--share must be in (0, 1]")
    info = yaml.safe_load((args.source / "dataset.yaml").read_text())
    rng = np.random.default_rng(args.seed)
    kept = {}
    for split in ("train", "val"):
        images = list_images(args.source / "images" / split)
        if split == "train":
            images = [images[i] for i in sorted(rng.choice(len(images), round(len(images) * args.share), replace=False))]
        for kind, paths in (("images", images), ("labels", [label_path_for(p) for p in images])):
            folder = args.out / kind / split
            folder.mkdir(parents=True, exist_ok=True)
            for p in paths:
                if p.exists():
                    (folder / p.name).symlink_to(p.resolve())
        kept[split] = len(images)
    info.update({"path": str(args.out.resolve()), "subset_of": str(args.source), "subset_share": args.share,
                 "subset_seed": args.seed, "subset_train_chips": kept["train"]})
    (args.out / "dataset.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    print(f"{args.out}: {kept['train']} of the training chips, {kept['val']} validation chips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
