import dataclasses

import pyarrow as pa

from datapipe.clean import EXCERPT_CHARS, Cleaner, clean_batch, clean_text, normalize, redact_pii
from datapipe.config import CleanConfig, PiiConfig
from datapipe.read import RECORD_SCHEMA

PROSE = (
    "The old harbour town sits at the mouth of a wide river, and its history is written in stone.\n\n"
    "Fishermen have worked these waters for centuries. Their boats leave before dawn and return with the tide. "
    "Markets along the quay sell the catch to families and restaurants from the valley.\n\n"
    "In the eighteenth century the town became a centre of trade with distant ports. Merchants built tall houses "
    "with carved doors, and many of those buildings still stand today. Visitors often walk the narrow streets "
    "to admire the architecture and the view across the bay.\n\n"
    "Today the population is smaller than it was, but the community remains proud of its traditions. "
    "Every summer a festival celebrates the sea with music, food and a procession of decorated boats."
)


def test_normalize():
    raw = "Cafe\u0301\r\nline\ttwo   has\u00a0 spaces \rthird\x00\x07 line\n\n\n\nlast\ufeff  "
    assert normalize(raw) == "Café\nline two has spaces\nthird line\n\nlast"
    assert normalize(normalize(raw)) == normalize(raw)
    assert normalize(" \n\t ") == ""


def test_pii_redaction_counts_each_kind():
    text = ("Mail jane.doe+x@example.co.uk or call (555) 123-4567 / +44 20 7946 0958. "
            "Server 192.168.1.20 and 2001:db8::8a2e:370:7334 are down. Meeting at 10:30:00 in 2023, "
            "version 1.2.3.4.5 and 999.1.1.1 stay.")
    out, counts = redact_pii(text, PiiConfig(enabled=True))
    assert "<EMAIL>" in out and "jane.doe" not in out
    assert out.count("<PHONE>") == 2 and out.count("<IP>") == 2
    assert "10:30:00" in out and "2023" in out and "999.1.1.1" in out and "1.2.3.4.5" in out
    assert counts == {"email": 1, "phone": 2, "ip": 2}
    only_email, c = redact_pii(text, PiiConfig(enabled=True, ips=False, phones=False))
    assert c == {"email": 1} and "192.168.1.20" in only_email


def test_good_prose_passes_every_filter():
    text, reason = clean_text(PROSE, CleanConfig())
    assert reason is None and text == normalize(PROSE)


def test_first_objecting_filter_decides_and_filters_can_be_switched_off():
    short = "The cat sat on the mat with the hat. " * 2
    _, reason = clean_text(short, CleanConfig())
    assert reason is not None and reason.startswith(("gopher", "lang_id"))
    off = CleanConfig()
    for name in ("lang_id", "gopher_repetition", "gopher_quality", "boilerplate", "c4", "fineweb"):
        off = dataclasses.replace(off, **{name: dataclasses.replace(getattr(off, name), enabled=False)})
    assert clean_text(short, off) == (normalize(short), None)
    assert clean_text("   \n ", off)[1] == "normalize:empty"


def test_clean_batch_marks_dropped_and_keeps_rejected():
    table = pa.table({
        "doc_id": ["a", "b", "c"], "source": ["s"] * 3,
        "text": [PROSE + "  ", "tiny", None], "status": ["ok", "ok", "rejected"],
        "reason": [None, None, "malformed_json"], "detail": ["", "", "x"], "raw": [None, None, b"{"],
    }, schema=RECORD_SCHEMA)
    out, pii = clean_batch(table, Cleaner(CleanConfig(pii=PiiConfig(enabled=True))))
    rows = out.to_pylist()
    assert rows[0]["status"] == "ok" and rows[0]["text"] == normalize(PROSE)
    assert rows[1]["status"] == "dropped" and rows[1]["text"] is None and ":" in rows[1]["reason"]
    assert rows[2]["status"] == "rejected" and rows[2]["reason"] == "malformed_json"
    assert not pii
    # dropped rows carry an excerpt (here the start of "tiny"), the others none
    assert [r["excerpt"] for r in rows] == [None, "tiny", None]


def test_excerpt_is_the_triggering_line_or_the_start_of_the_document():
    paragraphs = PROSE.split("\n\n")
    curly = "The template engine replaces {{ title }} with the page title before it is sent."
    result = Cleaner(CleanConfig())("\n\n".join(paragraphs[:2] + [curly] + paragraphs[2:]))
    assert result.reason == "c4:curly_bracket" and result.excerpt == curly
    repeated = paragraphs[1]
    result = Cleaner(CleanConfig())("\n\n".join(paragraphs + [repeated] * 3))
    assert result.reason.startswith("gopher_repetition:dup_para") and result.excerpt == repeated
    # a rule over the whole document: the document's first EXCERPT_CHARS characters
    result = Cleaner(CleanConfig())(("word " * 40).strip())
    assert result.reason is not None and result.excerpt == ("word " * 40).strip()[:EXCERPT_CHARS]
    long = PROSE.replace(".", "")  # no sentence ends: C4 drops it, naming no line
    result = Cleaner(CleanConfig(lang_id=dataclasses.replace(CleanConfig().lang_id, enabled=False)))(long)
    assert result.reason == "c4:too_few_sentences" and result.excerpt == normalize(long)[:EXCERPT_CHARS]
    assert len(result.excerpt) == EXCERPT_CHARS
