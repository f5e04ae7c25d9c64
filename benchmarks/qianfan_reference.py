"""Statistics of Baidu's reference code, for comparison with etlcore (never imported by etlcore or its tests).

Runs under a throwaway venv that holds PyPI `qianfan==0.4.12.3`, `jieba==0.42.1` and `emoji`:

    python3 -m venv /tmp/qf && /tmp/qf/bin/pip install qianfan==0.4.12.3 jieba==0.42.1 emoji
    /tmp/qf/bin/python benchmarks/qianfan_reference.py in.jsonl out.jsonl

Each input line is {"text": ..., "lang": "ZH" or "EN"}. Words come from qianfan's own
`qianfan/dataset/local_data_operators/utils.get_words_from_document` (unmodified) with its special set
from `consts.py`; its Chinese words need a SentencePiece model that qianfan does not ship, so jieba's
`lcut` stands in for the model. Only that package folder is loaded (the rest of qianfan needs a web
client stack); `ltp`, which utils imports for sentence splitting, is not used by these statistics and
is stubbed. The two repetition ratios are the formulas of check_word_repetition_filter.py and
check_character_repetition_filter.py, which compute them inside `__call__` and return only a verdict.
Each output line: words, word_rep (5-grams), char_rep (n = 3 for ZH, 10 for EN), and words and
word_rep again with etlcore's special set (qianfan's less 一 上 士 ン ッ ツ シ, etlcore's deliberate
difference).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import types
from pathlib import Path

import jieba


def _load_local_operators() -> types.ModuleType:
    package = Path(importlib.util.find_spec("qianfan").submodule_search_locations[0])
    for name, folder in (("qianfan", package), ("qianfan.dataset", package / "dataset")):
        module = types.ModuleType(name)
        module.__path__ = [str(folder)]
        sys.modules[name] = module
    logging = types.ModuleType("qianfan.utils")
    logging.log_warn = logging.log_error = logging.log_info = logging.log_debug = print
    sys.modules["qianfan.utils"] = logging

    class JiebaInsteadOfSentencePiece:
        def Load(self, path: str) -> None:
            pass

        def EncodeAsPieces(self, text: str) -> list[str]:
            return jieba.lcut(text)

    sentencepiece = types.ModuleType("sentencepiece")
    sentencepiece.SentencePieceProcessor = JiebaInsteadOfSentencePiece
    sys.modules["sentencepiece"] = sentencepiece
    ltp = types.ModuleType("ltp")
    ltp.StnSplit = type("StnSplit", (), {"split": lambda self, text: [text]})
    sys.modules["ltp"] = ltp
    from qianfan.dataset.local_data_operators import consts, utils

    utils.consts = consts
    return utils


UTILS = _load_local_operators()
SPECIAL = UTILS.consts._default_special_characters_set
ETLCORE_SPECIAL = SPECIAL - set("一上士ンッツシ")
TOKENIZER = UTILS.SentencePieceTokenizer("unused")


def character_repetition(document: str, n: int) -> float:
    grams: dict[str, int] = {}
    for i in range(len(document) - n + 1):
        grams[document[i:i + n]] = grams.get(document[i:i + n], 0) + 1
    if not grams:
        return 0.0
    counts = sorted(grams.values(), reverse=True)
    singletons = len([c for c in counts if c == 1])
    top = min(int(math.sqrt(len(counts))), len(counts) - singletons)
    return sum(counts[:top]) / sum(counts)


def words_and_repetition(text: str, lang: str, special: set[str], n: int = 5) -> tuple[int, float]:
    words = UTILS.get_words_from_document(text, lang, sentence_piece_tokenizer=TOKENIZER, need_to_lower=False,
                                          strip_characters=special)
    grams: dict[str, int] = {}
    for i in range(len(words) - n + 1):
        gram = " ".join(words[i:i + n])
        grams[gram] = grams.get(gram, 0) + 1
    repetition = sum(f for f in grams.values() if f > 1) / sum(grams.values()) if grams else 0.0
    return len(words), repetition


def main() -> None:
    jieba.setLogLevel(60)
    with open(sys.argv[1], encoding="utf-8") as rows, open(sys.argv[2], "w", encoding="utf-8") as out:
        for line in rows:
            row = json.loads(line)
            words, word_rep = words_and_repetition(row["text"], row["lang"], SPECIAL)
            words_set, word_rep_set = words_and_repetition(row["text"], row["lang"], ETLCORE_SPECIAL)
            out.write(json.dumps({"words": words, "word_rep": word_rep,
                                  "char_rep": character_repetition(row["text"], 3 if row["lang"] == "ZH" else 10),
                                  "words_etlcore_set": words_set, "word_rep_etlcore_set": word_rep_set}) + "\n")


if __name__ == "__main__":
    main()
