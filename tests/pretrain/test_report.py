"""The run report: real TensorBoard events and a datapipe stats.json in, valid PNGs and a
self-contained HTML page out."""
from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser

import matplotlib.image
from torch.utils.tensorboard import SummaryWriter

from pretrain.report import doors, write_report

STATS = {
    "input_docs": 100, "kept_docs": 70, "dropped_docs": {"c4:lorem_ipsum": 5, "lang_id:wrong_language": 7},
    "duplicate_docs": 12, "exact_duplicate_docs": 8, "near_duplicate_docs": 4, "near_duplicate_clusters": 3,
    "rejected_docs": {"malformed_json": 6}, "tokens": 5000, "tokens_by_source": {"web/train": 4800, "web/val": 200},
    "stage_seconds": {"read_clean": 2.0, "dedup": 1.0, "near_dedup": 1.5, "tokenizer": 0.1, "tokenize_pack": 0.5},
}
PNG = b"\x89PNG\r\n\x1a\n"


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.links = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a["src"])
        for key in ("href", "src"):
            if key in a and tag != "img":
                self.links.append(a[key])


def test_doors_add_up_to_the_input():
    assert sum(n for _, n in doors(STATS)) == STATS["input_docs"]


def test_report_embeds_every_plot_as_a_valid_png(tmp_path):
    tb = tmp_path / "tb"
    w = SummaryWriter(str(tb))
    for step in range(0, 50, 5):
        w.add_scalar("train/loss", 5 - step / 20, step)
        w.add_scalar("perf/tokens_per_s", 1000 + step, step)
    for step in (0, 25, 50):
        w.add_scalar("val/loss", 5.2 - step / 25, step)
    w.close()
    data = tmp_path / "shards"
    data.mkdir()
    (data / "stats.json").write_text(json.dumps(STATS))

    path = write_report(str(tmp_path / "report"), str(tb), str(data), {"run": "r1", "sample": "<b>hi</b>"})
    page = open(path).read()
    parser = Images()
    parser.feed(page)
    assert len(parser.srcs) == 4 and not parser.links  # loss, documents, tokens, throughput; nothing external
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png.startswith(PNG)
        assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[2] in (3, 4)
    for name in ("loss", "documents", "tokens", "throughput"):
        assert (tmp_path / "report" / f"{name}.png").read_bytes().startswith(PNG)
    assert "&lt;b&gt;hi&lt;/b&gt;" in page  # facts are escaped


def test_report_without_data_stats_still_plots_the_loss(tmp_path):
    w = SummaryWriter(str(tmp_path / "tb"))
    w.add_scalar("train/loss", 1.0, 1)
    w.close()
    path = write_report(str(tmp_path / "report"), str(tmp_path / "tb"), None, {})
    parser = Images()
    parser.feed(open(path).read())
    assert len(parser.srcs) == 1
