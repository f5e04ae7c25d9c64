import pyarrow as pa
import pytest

from etlcore.operators.replace_identifier import ReplaceIdentifier

CASES = [
    # phones
    ("电话：13812345678。", "电话：。"),
    ("13912345678是我的手机", "是我的手机"),
    ("手机 138-1234-5678 或 139 8765 4321", "手机 或"),
    ("+86 13812345678", ""),
    ("请拨打(010)62345678转人工", "请拨打转人工"),
    ("座机：021-87654321-123", "座机："),
    ("客服热线400-123-4567。", "客服热线。"),
    ("Call me at 15012345678!", "Call me at!"),
    # ID cards
    ("身份证号110101199003071233，", "身份证号，"),
    ("身份证：11010519491231002X", "身份证："),
    ("440305199003074517", ""),
    ("旧版身份证110105491231002", "旧版身份证"),
    # bank and credit cards
    ("卡号6222021234567890128。", "卡号。"),
    ("Visa 4111 1111 1111 1111 exp 12/25", "Visa exp 12/25"),
    ("Amex 378282246310005", "Amex"),
    ("银行卡：6217-0012-3456-7893", "银行卡："),
    # hashes and keys
    ("md5: d41d8cd98f00b204e9800998ecf8427e", "md5:"),
    ("commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 merged", "commit merged"),
    ("sha256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "sha256="),
    ("api_key: sk-proj1234abcdEFGH5678ijkl", "api_key:"),
    ("token=ghp_A1b2C3d4E5f6G7h8I9j0KlMn", "token="),
    ("https://example.com/download?token=a8F3kL9q2Zx7Vb4Nm6Pw", "https://example.com/download?token="),
    # known key formats (the AWS, Stripe and JWT examples are those of their own documentation)
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_access_key_id ="),
    ("临时凭证ASIAY34FZKBOKMUTVV7A已过期", "临时凭证已过期"),
    ("key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&q=1", "key=&q=1"),
    ("STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "STRIPE_KEY="),
    ("restricted: rk_test_51H8aBcDeFgHiJkLmN.", "restricted:."),
    ("slack xoxs-1234567890-abcdefghij ok", "slack ok"),
    ("xoxa-2-1234567890-abcdefABCDEF", ""),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lI"
     "iwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "Authorization: Bearer"),
    ("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0In0. end", "unsigned end"),
    ("密钥如下：\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
     "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----\n请妥善保管",
     "密钥如下：\n\n请妥善保管"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n"
     "MIIBOgIBAAJBAKj34GkxFhD90vcN\n-----END ENCRYPTED PRIVATE KEY-----", ""),
    ("-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8w\n-----END PRIVATE KEY-----", ""),
    # not identifiers
    ("ASIAPACIFICECONOMIES 和 ASIAN 市场", "ASIAPACIFICECONOMIES 和 ASIAN 市场"),
    ("AKIA 是前缀，AIzawa 是姓", "AKIA 是前缀，AIzawa 是姓"),
    ("sk_live_demo and xoxo-hugs-kisses", "sk_live_demo and xoxo-hugs-kisses"),
    ("-----BEGIN PUBLIC KEY-----\nnot a secret\n-----END PUBLIC KEY-----",
     "-----BEGIN PUBLIC KEY-----\nnot a secret\n-----END PUBLIC KEY-----"),
    ("The header -----BEGIN RSA PRIVATE KEY----- starts a key, the footer ends it.",
     "The header -----BEGIN RSA PRIVATE KEY----- starts a key, the footer ends it."),
    ("2023年10月1日，国庆节", "2023年10月1日，国庆节"),
    ("日期 2023-10-01 时间 12:30:45", "日期 2023-10-01 时间 12:30:45"),
    ("价格¥1,234.56，折扣95%", "价格¥1,234.56，折扣95%"),
    ("第3名，共120人，GDP增长5.2%", "第3名，共120人，GDP增长5.2%"),
    ("iPhone15 和 COVID19 以及 abc13812345678", "iPhone15 和 COVID19 以及 abc13812345678"),
    ("版本 v1.2.3 build 20231001", "版本 v1.2.3 build 20231001"),
    ("人口 1400000000 人", "人口 1400000000 人"),
    ("110101199003071234", "110101199003071234"),
    ("卡号6222021234567890123", "卡号6222021234567890123"),
    ("internationalization_and_localization", "internationalization_and_localization"),
    ("deadbeefdeadbeefdeadbeefdeadbeef", "deadbeefdeadbeefdeadbeefdeadbeef"),
    ("ISBN 978-7-02-002445-8", "ISBN 978-7-02-002445-8"),
    ("12345678901", "12345678901"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_default_replacement_removes(text: str, expected: str) -> None:
    assert ReplaceIdentifier().map_texts(pa.array([text])).to_pylist() == [expected]


def test_placeholder_replacement() -> None:
    texts = pa.array(["手机13812345678，卡号4111111111111111"])
    assert ReplaceIdentifier(replacement="<ID>").map_texts(texts).to_pylist() == ["手机<ID>，卡号<ID>"]


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
