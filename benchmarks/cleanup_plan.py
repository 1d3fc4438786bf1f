"""How fast `shipyard cleanup` decides a large repository, and how few delete calls it makes.

    .venv/bin/python benchmarks/cleanup_plan.py [--images 10000] [--runs 5]

A synthetic repository shaped like a busy service's: multi-arch releases (an index, two
untagged platform images and a cosign signature tag each), prereleases of 40 branches
pushed over 60 days, and untagged leftovers; one old release in use. The plan
(`domain.retention.plan_retention`, what `shipyard cleanup` runs after its reads) is timed
over `--runs` runs; then `run_cleanup` deletes the plan's images through a counting stand-in
for ECR's BatchDeleteImage (100 ids a call, as ECR takes them), so the calls are counted,
not timed. There is no tool to run beside it here: ECR evaluates lifecycle policies on its
side, and a script of `aws ecr describe-images` and `jq` decides nothing a multi-arch image
needs (it is the failure this command exists to avoid).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from shipyard.domain.retention import RetentionPolicy, StoredImage, plan_retention
from shipyard.usecases.cleanup import CleanupPlan, run_cleanup

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def repository(size: int) -> tuple[list[StoredImage], dict[str, str]]:
    images: list[StoredImage] = []
    counter = iter(range(1, 10 * size))

    def digest() -> str:
        return f"sha256:{next(counter):064x}"

    release = 0
    while len(images) < size * 0.6:
        release += 1
        children = (digest(), digest())
        index = digest()
        age = timedelta(hours=6 * release)
        version = f"{release // 100}.{release % 100}.0"
        images += [StoredImage(index, (version,), NOW - age, children)]
        images += [StoredImage(c, (), NOW - age) for c in children]
        images += [StoredImage(digest(), (f"sha256-{index[7:]}.sig",), NOW - age)]
    n = 0
    while len(images) < size * 0.95:
        n += 1
        images.append(StoredImage(digest(), (f"9.9.{n}-branch-{n % 40}.{n}",),
                                  NOW - timedelta(hours=n % 1440)))
    while len(images) < size:
        images.append(StoredImage(digest(), (), NOW - timedelta(hours=len(images) % 200)))
    in_use = {images[-40].digest: "service gp-staging", images[0].digest: "service gp-prod"}
    return images, in_use


class CountingEcr:
    """BatchDeleteImage's shape: at most 100 ids a call."""

    def __init__(self) -> None:
        self.calls = 0

    def delete_images(self, repository, digests):
        digests = list(digests)
        for start in range(0, len(digests), 100):
            self.calls += 1
            yield {"imageIds": [{"imageDigest": d} for d in digests[start:start + 100]],
                   "failures": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    images, in_use = repository(args.images)
    policy = RetentionPolicy()
    times = []
    for _ in range(max(1, min(args.runs, 50))):
        started = time.perf_counter()
        plan = plan_retention(images, policy, in_use=in_use, now=NOW)
        times.append(time.perf_counter() - started)
    ecr = CountingEcr()
    target = SimpleNamespace(repository="gamepulse", registry="r")
    result = run_cleanup(CleanupPlan(target, policy, ("gp",), in_use, plan, 0),  # type: ignore[arg-type]
                         SimpleNamespace(ecr=ecr), dry_run=False)  # type: ignore[arg-type]
    deleted = len(plan.deleted)
    print(f"images {len(images)}: plan median {statistics.median(times):.3f}s "
          f"(min {min(times):.3f}s, max {max(times):.3f}s over {len(times)} runs); "
          f"delete {deleted}, keep {len(plan.kept)}; BatchDeleteImage calls {ecr.calls} "
          f"(N/100 = {math.ceil(deleted / 100)}); deleted {len(result.deleted)}")


if __name__ == "__main__":
    main()
