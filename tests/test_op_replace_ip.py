import pyarrow as pa
import pytest

from etlcore.operators.replace_ip import ReplaceIp

CASES = [
    ("服务器地址：192.168.1.1。", "服务器地址：。"),
    ("192.168.0.254 是网关", "是网关"),
    ("连接10.0.0.1失败", "连接失败"),
    ("Ping 8.8.8.8, then 1.1.1.1.", "Ping, then."),
    ("(255.255.255.0)", "()"),
    ("0.0.0.0:8080", ":8080"),
    ("http://172.16.0.3/admin", "http:///admin"),
    ("地址为“127.0.0.1”", "地址为“”"),
    ("本地 ::1 回环", "本地 回环"),
    ("2001:db8::1", ""),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", ""),
    ("fe80::1%eth0 链路本地", "链路本地"),
    ("fe80:: 前缀", "前缀"),
    ("映射地址::ffff:192.0.2.1。", "映射地址。"),
    ("64:ff9b::192.0.2.33", ""),
    ("http://[2001:db8::7]:8080/", "http://[]:8080/"),
    ("IPv6：2001:DB8:0:0:8:800:200C:417A", "IPv6："),
    ("1:2:3:4:5:6:7:8", ""),
    ("::", "::"),
    # not addresses
    ("版本 1.2.3.4.5 发布", "版本 1.2.3.4.5 发布"),
    ("999.1.1.1", "999.1.1.1"),
    ("256.256.256.256", "256.256.256.256"),
    ("v1.2.3.4", "v1.2.3.4"),
    ("01.02.03.04", "01.02.03.04"),
    ("1.2.3", "1.2.3"),
    ("价格 12.50 元", "价格 12.50 元"),
    ("时间 12:30:45", "时间 12:30:45"),
    ("MAC 00:1A:2B:3C:4D:5E", "MAC 00:1A:2B:3C:4D:5E"),
    ("std::vector<int>", "std::vector<int>"),
    ("1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"),
    ("2001:db8::1:2:3:4:5:6:7", "2001:db8::1:2:3:4:5:6:7"),
    ("比分 3:1 和 2023.10.01", "比分 3:1 和 2023.10.01"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_default_replacement_removes(text: str, expected: str) -> None:
    assert ReplaceIp().map_texts(pa.array([text])).to_pylist() == [expected]


def test_placeholder_replacement() -> None:
    texts = pa.array(["从 10.1.2.3 到 ::1", "无"])
    assert ReplaceIp(replacement="<IP>").map_texts(texts).to_pylist() == ["从 <IP> 到 <IP>", "无"]


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
