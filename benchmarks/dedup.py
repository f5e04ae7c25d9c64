"""Near-duplicate search, side by side on the same generated corpora: etlcore against the peers a user
would pick instead.

    .venv/bin/python benchmarks/dedup.py [--docs 100000 1000000] [--distance 6] [--search-only 10000000]
                                         [--peers-up-to 100000]

- etlcore: what `deduplication_simhash` does with its defaults, over 10 k-document Arrow batches: count
  the lines of the corpus (`line_hashes` into `LineCounts`), `simhash_fingerprints` leaving out the
  frequent ones, then `keep_first_of_clusters` (exact search + union-find); in its own process, whose
  peak RSS is reported. The line counting is part of the fingerprint time.
- simhash-pybind `find_all` on etlcore's own (unique) fingerprints, at blocks = k + 1 and at 8 blocks.
- data-juicer's DocumentSimhashDeduplicator recipe, re-run faithfully with simhash-pybind (py-data-juicer
  itself pulls in torch and more): lower case, character 6-gram shingles, `unsigned_hash` (md5) per
  shingle, `simhash.compute`, `find_all` with blocks = k + 1, BFS clustering.
- leonsim `simhash`: `Simhash(text)` and `SimhashIndex(k=distance)`.
- brute force (all pairs, XOR + popcount, numpy) on each fingerprint set: the reference for recall.
leonsim `simhash` and `simhash-pybind` install the same import name, so each peer runs in its own
virtual environment under `bench-data/peers/` (made on first use with pip). Peers and brute force run
up to `--peers-up-to` documents for leonsim and brute force (minutes per 100 k); etlcore, find_all and
data-juicer's recipe run at every size.
The share of each kind of injected near-duplicate (make_corpus.py's truth file) whose fingerprint
lands within the distance of its source is reported per fingerprint recipe, with the number of pairs
within the distance whose texts are less than half alike (rapidfuzz `ratio` < 50): unrelated documents
that the recipe brings too close.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.json as pj
from rapidfuzz.fuzz import ratio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA, corpus

from etlcore.simhash import brute_force_pairs, near_duplicate_pairs

PEERS = DATA / "peers"
PEER_PACKAGES = {"pybind": "simhash-pybind", "leonsim": "simhash"}

ETLCORE = """
import json, resource, sys, time
import numpy as np, pyarrow.json as pj, pyarrow as pa
from etlcore.operators.deduplication_simhash import DeduplicationSimhash
from etlcore.simhash import (FrequentLines, LineCounts, keep_first_of_clusters, line_hashes, near_duplicate_pairs,
                             simhash_fingerprints)
warm = LineCounts()
warm.add(line_hashes(["warm up"]))
simhash_fingerprints(["warm up the compiled kernels"], frequent_lines=FrequentLines(warm, 10))
keep_first_of_clusters(np.arange(64, dtype=np.uint64), 6)
texts = pj.read_json(sys.argv[1]).column("text").combine_chunks().cast(pa.string())
k, out = int(sys.argv[2]), sys.argv[3]
batches = [texts.slice(i, 10000) for i in range(0, len(texts), 10000)]
started = time.perf_counter()
counts = LineCounts()
for batch in batches:
    counts.add(line_hashes(batch))
frequent = FrequentLines(counts, DeduplicationSimhash(distance=k).line_threshold(len(texts)))
fps = np.concatenate([simhash_fingerprints(batch, frequent_lines=frequent) for batch in batches])
fingerprinted = time.perf_counter()
kept, distance = keep_first_of_clusters(fps, k)
searched = time.perf_counter()
unique = np.unique(fps)
left, right, _ = near_duplicate_pairs(unique, k)
np.save(out + ".fps.npy", fps)
np.save(out + ".plain_fps.npy", np.concatenate([simhash_fingerprints(batch) for batch in batches]))
np.save(out + ".trigram_fps.npy", np.concatenate([simhash_fingerprints(batch, frequent_lines=frequent, short_text=0)
                                                  for batch in batches]))
np.save(out + ".pairs.npy", np.stack([unique[left], unique[right]]))
print(json.dumps({"fingerprint_s": fingerprinted - started, "search_s": searched - fingerprinted,
                  "removed": int((kept >= 0).sum()), "pairs": len(left),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FIND_ALL = """
import json, sys, time
import numpy as np, simhash
unique = np.unique(np.load(sys.argv[1]))
k = int(sys.argv[2])
result = {}
for blocks in sorted({k + 1, 8}):
    started = time.perf_counter()
    pairs = simhash.find_all([int(x) for x in unique], blocks, k)
    result[f"find_all_{blocks}_s"] = time.perf_counter() - started
    np.save(sys.argv[3] + f".find_all_{blocks}.npy", np.array(sorted(tuple(sorted(p)) for p in pairs),
                                                             dtype=np.uint64).reshape(-1, 2).T)
    result[f"find_all_{blocks}_pairs"] = len(pairs)
print(json.dumps(result))
"""

DATA_JUICER = """
import json, sys, time
from collections import defaultdict, deque
import numpy as np, simhash
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
k, out, window = int(sys.argv[2]), sys.argv[3], 6
started = time.perf_counter()
fps = []
for text in texts:
    text = text.lower()
    tokens = [str.encode(text[i:i + window]) for i in range(len(text) - window)]
    fps.append(np.uint64(simhash.compute(map(simhash.unsigned_hash, tokens))))
fingerprinted = time.perf_counter()
fps = np.array(fps, dtype=np.uint64)
matches = simhash.find_all(fps, k + 1, k)
graph = defaultdict(set)
for x, y in matches:
    graph[x].add(y); graph[y].add(x)
cluster, clusters = {}, 0
for start in graph:
    if start in cluster:
        continue
    queue = deque([start]); cluster[start] = clusters
    while queue:
        for neighbour in graph[queue.popleft()]:
            if neighbour not in cluster:
                cluster[neighbour] = clusters; queue.append(neighbour)
    clusters += 1
seen_clusters, seen_hashes, kept = set(), set(), 0
for value in fps.tolist():
    key = cluster.get(value)
    if key is None:
        kept += value not in seen_hashes; seen_hashes.add(value)
    else:
        kept += key not in seen_clusters; seen_clusters.add(key)
searched = time.perf_counter()
np.save(out + ".dj_fps.npy", fps)
np.save(out + ".dj_pairs.npy", np.array(sorted(tuple(sorted(p)) for p in matches), dtype=np.uint64).reshape(-1, 2).T)
print(json.dumps({"fingerprint_s": fingerprinted - started, "search_s": searched - fingerprinted,
                  "removed": len(fps) - kept, "pairs": len(matches)}))
"""

LEONSIM = """
import json, sys, time
import numpy as np
from simhash import Simhash, SimhashIndex
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
k, out = int(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
hashes, failed = [], 0
for text in texts:
    try:
        hashes.append(Simhash(text).value)
    except Exception:  # numpy 2 overflow when a feature repeats over 255 times
        hashes.append(0); failed += 1
fingerprinted = time.perf_counter()
unique = sorted(set(hashes))
index = SimhashIndex([(str(i), Simhash(v)) for i, v in enumerate(unique)], k=k)
pairs = set()
for i, v in enumerate(unique):
    for j in index.get_near_dups(Simhash(v)):
        if int(j) != i:
            pairs.add((min(i, int(j)), max(i, int(j))))
searched = time.perf_counter()
np.save(out + ".leon_fps.npy", np.array(hashes, dtype=np.uint64))
print(json.dumps({"fingerprint_s": fingerprinted - started, "search_s": searched - fingerprinted,
                  "pairs": len(pairs), "failed_documents": failed}))
"""


def peer_python(name: str) -> Path:
    venv = PEERS / name
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "numpy",
                        PEER_PACKAGES[name]], check=True)
    return venv / "bin" / "python"


def run(python: Path | str, code: str, *args: str) -> dict:
    done = subprocess.run([str(python), "-c", textwrap.dedent(code), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def pair_set(pairs: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(pairs[0].tolist(), pairs[1].tolist())) if pairs.size else set()


def brute_value_pairs(fps: np.ndarray, k: int) -> set[tuple[int, int]]:
    unique = np.unique(fps)
    return {(int(unique[i]), int(unique[j])) for i, j in brute_force_pairs(unique, k)}


def edit_quality(path: Path, fps: np.ndarray, k: int) -> dict[str, float]:
    truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
    ids = [json.loads(line)["id"] for line in path.open(encoding="utf-8")]
    position = {doc: i for i, doc in enumerate(ids)}
    within: dict[str, list[bool]] = {}
    for doc, info in truth["near_dup"].items():
        a, b = position[doc], position[info["source"]]
        within.setdefault(info["edit"], []).append(int(np.bitwise_count(fps[a] ^ fps[b])) <= k)
    return {edit: float(np.mean(v)) for edit, v in sorted(within.items())}


def unalike_pairs(texts: list[str], fps: np.ndarray, k: int) -> int:
    """Pairs of documents within distance k whose texts are less than half alike (rapidfuzz `ratio`,
    normalised indel similarity, under 50): one document per distinct fingerprint against the others,
    and every document against the first one with its fingerprint."""
    unique, first, group = np.unique(fps, return_index=True, return_inverse=True)
    left, right, _ = near_duplicate_pairs(unique, k)
    pairs = [*zip(first[left].tolist(), first[right].tolist()),
             *((int(first[g]), i) for i, g in enumerate(group.tolist()) if first[g] != i)]
    return sum(ratio(texts[a], texts[b]) < 50 for a, b in pairs)


def bench_corpus(n: int, k: int, slow_peers: bool, tmp: Path) -> None:
    path = corpus(n)
    out = str(tmp / f"run{n}")
    print(f"\n== {n:,} documents ({path.stat().st_size / 1e6:,.0f} MB), distance {k} ==")
    mine = run(sys.executable, ETLCORE, str(path), str(k), out)
    total = mine["fingerprint_s"] + mine["search_s"]
    rows = [("etlcore", mine["fingerprint_s"], mine["search_s"], mine["pairs"], f"{mine['rss_mb']:,.0f} MB")]
    fps = np.load(out + ".fps.npy")
    recipes = {"etlcore": fps, "etlcore, short_text_chars 0": np.load(out + ".trigram_fps.npy"),
               "etlcore, no line counts": np.load(out + ".plain_fps.npy")}
    recall = {}
    reference: set[tuple[int, int]] | None = None
    if slow_peers:
        started = time.perf_counter()
        reference = brute_value_pairs(fps, k)
        rows.append(("brute force (numpy, etlcore fps)", 0.0, time.perf_counter() - started, len(reference), ""))
        recall["etlcore"] = len(pair_set(np.load(out + ".pairs.npy")) & reference) / max(1, len(reference))
    found = run(peer_python("pybind"), FIND_ALL, out + ".fps.npy", str(k), out)
    for blocks in sorted({k + 1, 8}):
        name = f"simhash-pybind find_all, {blocks} blocks (etlcore fps)"
        rows.append((name, 0.0, found[f"find_all_{blocks}_s"], found[f"find_all_{blocks}_pairs"], ""))
        if reference is not None:
            recall[name] = (len(pair_set(np.load(out + f".find_all_{blocks}.npy")) & reference)
                            / max(1, len(reference)))
    dj = run(peer_python("pybind"), DATA_JUICER, str(path), str(k), out)
    rows.append(("data-juicer recipe (pybind)", dj["fingerprint_s"], dj["search_s"], dj["pairs"], ""))
    recipes["data-juicer recipe"] = np.load(out + ".dj_fps.npy")
    print(f"etlcore end to end is {(dj['fingerprint_s'] + dj['search_s']) / total:.1f}x data-juicer's recipe; "
          f"etlcore's search is {found[f'find_all_{max(k + 1, 8)}_s'] / mine['search_s']:.1f}x find_all "
          f"with 8 blocks on the same fingerprints")
    if slow_peers:
        dj_reference = brute_value_pairs(recipes["data-juicer recipe"], k)
        recall["data-juicer recipe (pybind)"] = (len(pair_set(np.load(out + ".dj_pairs.npy")) & dj_reference)
                                                 / max(1, len(dj_reference)))
        leon = run(peer_python("leonsim"), LEONSIM, str(path), str(k), out)
        rows.append((f"leonsim simhash ({leon['failed_documents']} docs crashed)", leon["fingerprint_s"],
                     leon["search_s"], leon["pairs"], ""))
        recipes["leonsim"] = np.load(out + ".leon_fps.npy")
        recall[rows[-1][0]] = leon["pairs"] / max(1, len(brute_value_pairs(recipes["leonsim"], k)))
    print(f"{'method':<52}{'fingerprint s':>14}{'search s':>10}{'total s':>9}{'docs/s':>11}{'pairs':>9}"
          f"{'recall':>8}{'peak RSS':>10}")
    for name, fingerprint_s, search_s, pairs, rss in rows:
        seconds = fingerprint_s + search_s
        share = f"{recall[name]:.3f}" if name in recall else ""
        print(f"{name:<52}{fingerprint_s:>14.2f}{search_s:>10.2f}{seconds:>9.2f}{n / seconds:>11,.0f}{pairs:>9,}"
              f"{share:>8}{rss:>10}")
    print(f"etlcore total: {total:.2f} s; removed {mine['removed']:,} documents")
    print("share of injected near-duplicates within the distance of their source, per edit kind; pairs of "
          "documents within the distance whose texts are less than half alike:")
    texts = pj.read_json(path).column("text").to_pylist()
    for name, prints in recipes.items():
        shares = edit_quality(path, prints, k)
        print(f"  {name:<28}" + "  ".join(f"{edit} {share:.3f}" for edit, share in shares.items())
              + f"  unalike pairs {unalike_pairs(texts, prints, k):,}")


def bench_search_only(n: int, k: int) -> None:

    rng = np.random.default_rng(5)
    fps = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2)
    planted = n // 10  # a tenth are near copies of another fingerprint, 1..k bits away
    flips = np.zeros(planted, dtype=np.uint64)
    for _ in range(k):
        flips |= np.uint64(1) << rng.integers(0, 64, planted).astype(np.uint64)
    fps[-planted:] = fps[:planted] ^ flips
    unique = np.unique(fps)
    near_duplicate_pairs(unique[:1000], k)
    started = time.perf_counter()
    left, _, _ = near_duplicate_pairs(unique, k)
    print(f"\n== search only: {len(unique):,} fingerprints (a tenth planted near copies), distance {k} ==\n"
          f"etlcore near_duplicate_pairs: {time.perf_counter() - started:.1f} s, {len(left):,} pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--distance", type=int, default=6)
    parser.add_argument("--search-only", type=int, default=10_000_000)
    parser.add_argument("--peers-up-to", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.docs:
            bench_corpus(n, args.distance, n <= args.peers_up_to, Path(tmp))
    if args.search_only:
        bench_search_only(args.search_only, args.distance)


if __name__ == "__main__":
    main()
