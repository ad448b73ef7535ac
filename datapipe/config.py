"""The datapipe job's config tree. Defaults are the published filter values and a small,
debug-friendly tokenizer/packing setup; `configs/datapipe/*.yaml` hold presets."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from datapipe.minhash import optimal_bands
from raypretrain.config import Range, RangeError, at_least, check_ranges, fraction, positive

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A name that becomes one folder (a source, a run, a sweep): no '/', never '.' or '..'."""
SAMPLE_MIN_DOCS = 20
"""The generated sample corpus plants every kind of document; it needs at least this many (datapipe.sample.MIN_DOCS)."""


def check_name(key: str, value: str) -> None:
    """RangeError unless `value` is a plain folder name (NAME_RE)."""
    if not NAME_RE.fullmatch(value):
        raise RangeError(f"{key}: {value!r} must be a plain name of letters, digits, '.', '_' or '-' "
                         "(it becomes a folder; no '/' or '..')")


@dataclass(frozen=True)
class SourceConfig:
    name: str = "main"
    """Source name (e.g. web, books, code); shards go to shards/<name>/ and the manifest counts its tokens."""
    paths: tuple[str, ...] = ()
    """Input files: local paths, globs, or URIs pyarrow understands (file://, s3://, gs://)."""
    format: Literal["auto", "jsonl", "parquet", "text"] = "auto"
    """File format; auto picks by extension (.jsonl/.json[.gz|.zst], .parquet, anything else is text)."""
    text_unit: Literal["file", "line"] = "file"
    """For text files: one document per file, or one per line."""
    text_field: str = "text"
    """Field (JSONL key or Parquet column) that holds the document text."""
    id_field: str = "id"
    """Field holding a document id; records without one get '<path>:<row>'."""

    def __post_init__(self) -> None:
        check_name("name", self.name)
        for key in ("text_field", "id_field"):
            if not getattr(self, key):
                raise RangeError(f"{key}: must not be empty")


@dataclass(frozen=True)
class ReadConfig:
    max_doc_bytes: int = 1_000_000
    """Documents whose UTF-8 text is larger than this are rejected as too_large (never truncated)."""
    raw_prefix_bytes: int = 200
    """How many leading bytes of a rejected record are kept in rejected/ for inspection."""
    max_nul_fraction: float = 0.0
    """Records whose share of NUL characters exceeds this are rejected as binary_content."""
    task_target_bytes: int = 128 * 2**20
    """Read tasks hold at most this many uncompressed bytes; larger files are split (uncompressed JSONL and
    text lines at line starts, Parquet by row groups); compressed files are one task each. Smaller when that
    gives a whole number of tasks per cluster CPU, at least 4 (never under 1 MiB)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"max_doc_bytes": at_least(1), "raw_prefix_bytes": at_least(0),
                            "max_nul_fraction": fraction(), "task_target_bytes": at_least(1)})


@dataclass(frozen=True)
class PiiConfig:
    enabled: bool = False
    """Replace e-mail addresses, IP addresses and phone numbers with placeholder tokens."""
    emails: bool = True
    """Redact e-mail addresses as <EMAIL>."""
    ips: bool = True
    """Redact IPv4 and IPv6 addresses as <IP>."""
    phones: bool = True
    """Redact phone numbers as <PHONE>."""


@dataclass(frozen=True)
class GopherQualityConfig:
    enabled: bool = True
    """Run the Gopher quality filter (Rae et al. 2021)."""
    min_doc_words: int = 50
    """Drop documents with fewer words."""
    max_doc_words: int = 100_000
    """Drop documents with more words."""
    min_avg_word_length: float = 3.0
    """Drop documents whose mean word length is below this."""
    max_avg_word_length: float = 10.0
    """Drop documents whose mean word length is above this."""
    max_symbol_word_ratio: float = 0.1
    """Drop documents where (# and ellipsis symbols) / words exceeds this."""
    max_bullet_lines_ratio: float = 0.9
    """Drop documents where the share of lines starting with a bullet exceeds this."""
    max_ellipsis_lines_ratio: float = 0.3
    """Drop documents where the share of lines ending in an ellipsis exceeds this."""
    min_alpha_words_ratio: float = 0.8
    """Drop documents where fewer than this share of words contain an alphabetic character."""
    min_stop_words: int = 2
    """Drop documents with fewer occurrences of the stop words."""
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
    """The stop words counted for min_stop_words."""

    def __post_init__(self) -> None:
        check_ranges(self, {"min_doc_words": at_least(0), "max_doc_words": at_least(1),
                            "min_avg_word_length": at_least(0), "max_avg_word_length": positive(),
                            "max_symbol_word_ratio": at_least(0), "max_bullet_lines_ratio": fraction(),
                            "max_ellipsis_lines_ratio": fraction(), "min_alpha_words_ratio": fraction(),
                            "min_stop_words": at_least(0)})
        if self.min_doc_words > self.max_doc_words or self.min_avg_word_length > self.max_avg_word_length:
            raise RangeError("min_doc_words/min_avg_word_length: a minimum is above its maximum")


@dataclass(frozen=True)
class GopherRepetitionConfig:
    enabled: bool = True
    """Run the Gopher repetition filter."""
    dup_line_frac: float = 0.3
    """Max share of lines that duplicate an earlier line."""
    dup_para_frac: float = 0.3
    """Max share of paragraphs that duplicate an earlier paragraph."""
    dup_line_char_frac: float = 0.2
    """Max share of characters in duplicated lines."""
    dup_para_char_frac: float = 0.2
    """Max share of characters in duplicated paragraphs."""
    top_ngram_fracs: tuple[float, ...] = (0.20, 0.18, 0.16)
    """Max character share of the most frequent word n-gram, for n = 2, 3, 4."""
    dup_ngram_fracs: tuple[float, ...] = (0.15, 0.14, 0.13, 0.12, 0.11, 0.10)
    """Max character share of duplicated word n-grams, for n = 5 ... 10."""

    def __post_init__(self) -> None:
        check_ranges(self, {"dup_line_frac": fraction(), "dup_para_frac": fraction(), "dup_line_char_frac": fraction(),
                            "dup_para_char_frac": fraction(), "top_ngram_fracs": fraction(),
                            "dup_ngram_fracs": fraction()})
        if len(self.top_ngram_fracs) > 3 or len(self.dup_ngram_fracs) > 6:
            raise RangeError("top_ngram_fracs/dup_ngram_fracs: at most 3 values (n = 2..4) and 6 values (n = 5..10)")


@dataclass(frozen=True)
class BoilerplateConfig:
    enabled: bool = True
    """Run the boilerplate filter: drop pages made of cookie-consent, enable-JavaScript, browser-update,
    sign-in, navigation and footer lines."""
    max_line_frac: float = 0.8
    """Drop documents where the share of boilerplate lines exceeds this."""
    max_char_frac: float = 0.4
    """Drop documents where the share of characters in boilerplate lines exceeds this."""
    words_per_phrase: int = 12
    """A line is boilerplate when it holds at least one phrase per this many words (so a short line needs one)."""
    phrases_path: str | None = None
    """A phrase file to use instead of the shipped datapipe/filters/boilerplate_phrases.txt (same format:
    [kind] headers, one lower-case phrase a line, '=' before a phrase that must be the whole line)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"max_line_frac": fraction(), "max_char_frac": fraction(),
                            "words_per_phrase": Range(1, 10_000)})
        if self.phrases_path is not None and not self.phrases_path:
            raise RangeError("phrases_path: must not be empty (leave it out for the shipped list)")


@dataclass(frozen=True)
class C4Config:
    enabled: bool = True
    """Run the C4 filter: line removal, then document checks."""
    filter_no_terminal_punct: bool = True
    """Remove lines that do not end in terminal punctuation."""
    min_words_per_line: int = 3
    """Remove lines with fewer words."""
    max_word_length: int = 1000
    """Remove lines containing a word longer than this."""
    filter_lorem_ipsum: bool = True
    """Drop documents where a line that survives line removal contains 'lorem ipsum'."""
    filter_javascript: bool = True
    """Remove lines mentioning javascript."""
    filter_curly_bracket: bool = True
    """Drop documents where a line that survives line removal contains a curly bracket."""
    filter_policy: bool = True
    """Remove cookie, privacy and terms-of-use lines."""
    min_num_sentences: int = 5
    """Drop documents with fewer sentences after line removal."""

    def __post_init__(self) -> None:
        check_ranges(self, {"min_words_per_line": at_least(0), "max_word_length": at_least(1),
                            "min_num_sentences": at_least(0)})


@dataclass(frozen=True)
class FineWebConfig:
    enabled: bool = True
    """Run the FineWeb quality filter."""
    line_punct_thr: float = 0.12
    """Drop documents where the share of lines ending in punctuation is below this."""
    line_punct_exclude_zero: bool = False
    """Do not drop documents whose punctuated-line share is exactly zero."""
    short_line_thr: float = 0.67
    """Drop documents where the share of short lines exceeds this."""
    short_line_length: int = 30
    """A line with at most this many characters is short."""
    char_duplicates_ratio: float = 0.01
    """Drop documents where the share of characters in duplicated lines exceeds this."""
    new_line_ratio: float = 0.3
    """Drop documents where newlines per word exceed this."""

    def __post_init__(self) -> None:
        check_ranges(self, {"line_punct_thr": fraction(), "short_line_thr": fraction(),
                            "short_line_length": at_least(0), "char_duplicates_ratio": fraction(),
                            "new_line_ratio": at_least(0)})


@dataclass(frozen=True)
class LangIdConfig:
    enabled: bool = True
    """Run language identification (py3langid, whose model ships inside its wheel)."""
    languages: tuple[str, ...] = ("en",)
    """ISO 639-1 codes to keep; empty keeps every language that reaches min_score."""
    min_score: float = 0.65
    """Drop documents whose top-language probability is below this."""
    fasttext_model: str | None = None
    """Optional path to a fastText lid.176.bin to use instead (needs the fasttext package)."""

    def __post_init__(self) -> None:
        check_ranges(self, {"min_score": fraction()})


@dataclass(frozen=True)
class CleanConfig:
    pii: PiiConfig = field(default_factory=PiiConfig)
    """PII redaction (off by default)."""
    lang_id: LangIdConfig = field(default_factory=LangIdConfig)
    """Language identification."""
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    """Gopher repetition filter."""
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    """Gopher quality filter."""
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    """Boilerplate (consent, JavaScript, navigation and footer) filter; runs before C4."""
    c4: C4Config = field(default_factory=C4Config)
    """C4 line and document filter."""
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)
    """FineWeb quality filter."""


@dataclass(frozen=True)
class NearDedupConfig:
    enabled: bool = True
    """Remove near duplicates with MinHash + LSH after exact dedup."""
    mode: Literal["batch", "streaming"] = "batch"
    """batch: band-key shuffle, candidate pairs verified (see verify), then in doc_id order a document is
    removed only if it matches one that is kept (no chaining); streaming: an online LSH index sharded over
    Ray actors, first document seen wins (for the live pipeline)."""
    shingle: Literal["word", "char"] = "word"
    """Shingles are word n-grams or character n-grams of the words (see tokens) joined by single spaces."""
    tokens: Literal["alnum", "whitespace"] = "alnum"
    """Words for shingling: alnum, the runs of letters and digits of the NFKC, lower-cased text (punctuation
    and symbols ignored, as datatrove and text-dedup do); whitespace, the lower-cased text split on
    whitespace with punctuation kept in the words (the behaviour before)."""
    ngram: int = 5
    """Shingle length n (words or characters)."""
    hash: Literal["fast", "sha1"] = "fast"
    """Shingle hash: vectorised 'fast', or datasketch's default 'sha1' (slower, bit-identical)."""
    num_perm: int = 256
    """MinHash permutations (signature length); 256 keeps the verification error small."""
    seed: int = 1
    """Seed of the permutations (datasketch's scheme, so datasketch.MinHash(seed=...) agrees)."""
    threshold: float = 0.8
    """Jaccard similarity at which documents count as near duplicates."""
    false_negative_weight: float = 0.9
    """When deriving bands/rows: weight of missed pairs vs false candidates (datasketch's
    weights; verification removes false candidates, so recall is favoured)."""
    bands: int = 0
    """LSH bands; 0 derives bands and rows from threshold as datasketch does."""
    rows: int = 0
    """LSH rows per band (bands × rows ≤ num_perm); 0 derives them from threshold."""
    verify: Literal["exact", "estimate"] | bool = "exact"
    """Batch mode: how a candidate pair (one LSH band shared) is checked before one document is removed.
    exact: the exact Jaccard of the two documents' shingle sets (the hashed shingles the signatures come from,
    after max_shingles) must reach threshold; the candidates' texts are read again from the kept buckets. estimate:
    the signatures' estimated Jaccard must (the behaviour before; a pair just below threshold can pass). true
    means exact; false checks nothing (every candidate pair counts)."""
    max_shingles: int = 100_000
    """Cap on distinct shingles per document: the bottom-k by hash, a consistent sample."""
    partitions: int = 0
    """Partitions of the band-key shuffle; 0 means as many as dedup buckets."""
    index_shards: int = 4
    """Streaming mode: BandIndex actors the band keys are spread over."""

    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): as configured, or optimal for threshold as datasketch computes it."""
        if self.bands and self.rows:
            return self.bands, self.rows
        return optimal_bands(self.threshold, self.num_perm,
                             false_positive_weight=1.0 - self.false_negative_weight,
                             false_negative_weight=self.false_negative_weight)

    def __post_init__(self) -> None:
        check_ranges(self, {"ngram": Range(1, 1000), "num_perm": Range(2, 8192), "seed": Range(0, 2**32 - 1),
                            "threshold": fraction(lo_open=True, hi_open=True),
                            "false_negative_weight": fraction(lo_open=True, hi_open=True),
                            "bands": at_least(0), "rows": at_least(0), "max_shingles": at_least(1),
                            "partitions": Range(0, 1_000_000), "index_shards": Range(1, 1024)})
        if bool(self.bands) != bool(self.rows) or self.bands * self.rows > self.num_perm:
            raise RangeError("bands/rows: give both (bands × rows ≤ num_perm) or neither")
        if self.verify is True:  # the setting was a bool before: on meant verify
            object.__setattr__(self, "verify", "exact")


@dataclass(frozen=True)
class DedupConfig:
    near: NearDedupConfig = field(default_factory=NearDedupConfig)
    """Near-duplicate removal (MinHash + LSH)."""
    exact: bool = True
    """Remove exact duplicates of the normalized text, keeping the lowest doc_id."""
    num_buckets: int = 0
    """Hash buckets for the dedup shuffle (each bucket is one task's memory); 0 picks from input size."""
    bucket_target_bytes: int = 16 * 2**20
    """With num_buckets=0: aim for about this many uncompressed input bytes per bucket (compressed inputs are
    sized by the ratio measured on a 1 MiB prefix of up to 16 files per codec). A bucket task's worker needs
    about 0.35 GiB + 5 × this."""
    exact_index_shards: int = 4
    """Live mode: ExactIndex actors the content hashes are spread over (by hash prefix); each holds about
    150 bytes per document it has seen."""

    def __post_init__(self) -> None:
        check_ranges(self, {"num_buckets": Range(0, 1_000_000), "bucket_target_bytes": at_least(1),
                            "exact_index_shards": Range(1, 1024)})


@dataclass(frozen=True)
class TokenizeConfig:
    tokenizer_path: str | None = None
    """Use this tokenizer.json instead of training one."""
    vocab_size: int = 8192
    """Vocabulary size of the byte-level BPE trained on the kept corpus."""
    train_docs: int = 20_000
    """How many kept documents (taken evenly across buckets) train the tokenizer."""
    min_frequency: int = 2
    """BPE merges need at least this many occurrences."""
    eos_token: str = "<|endoftext|>"
    """Appended after every document."""
    pad_token: str = "<|pad|>"
    """Fills the tail of the last block of each shard; training ignores it."""
    batch_size: int = 512
    """Documents per encode_batch call."""

    def __post_init__(self) -> None:
        check_ranges(self, {"vocab_size": Range(300, 2**31), "train_docs": at_least(1),
                            "min_frequency": at_least(0), "batch_size": at_least(1)})
        if not self.eos_token or not self.pad_token or self.eos_token == self.pad_token:
            raise RangeError("eos_token/pad_token: two different, non-empty tokens")


@dataclass(frozen=True)
class PackConfig:
    seq_len: int = 256
    """Training sequence length; blocks hold seq_len + 1 tokens (inputs and shifted targets). The default
    agrees with pretrain's model.seq_len default, so the defaults train as they are."""
    val_fraction: float = 0.05
    """Share of documents (chosen by a seeded hash of doc_id) that go to validation."""
    seed: int = 0
    """Seed of the train/validation split."""

    def __post_init__(self) -> None:
        check_ranges(self, {"seq_len": Range(8, 2**20), "val_fraction": fraction(hi_open=True),
                            "seed": at_least(0)})


@dataclass(frozen=True)
class DatapipeConfig:
    sources: tuple[SourceConfig, ...] = ()
    """Named input sources; empty means the generated sample corpus."""
    output: str = "outputs/datapipe"
    """Output folder (local path or URI)."""
    read: ReadConfig = field(default_factory=ReadConfig)
    """Reading and rejecting unreadable records."""
    clean: CleanConfig = field(default_factory=CleanConfig)
    """Normalization, PII redaction and quality filters."""
    dedup: DedupConfig = field(default_factory=DedupConfig)
    """Duplicate removal."""
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)
    """Tokenizer training and tokenization."""
    pack: PackConfig = field(default_factory=PackConfig)
    """Packing into fixed-length blocks and the train/validation split."""
    sample_docs: int = 3000
    """Size of the generated sample corpus used when no sources are given."""
    sample_sources: tuple[str, ...] = ("sample",)
    """Source names the generated sample corpus is dealt into, document by document in turn (more than one
    lets you try data.weights and data.schedule on the embedded default)."""
    actor_num_cpus: float = 1.0
    """CPUs each stage actor reserves; the pool has one actor per that many cluster CPUs."""
    keep_work: bool = False
    """Keep the intermediate _work/ folder after a successful run."""
    live_pack_actors: int = 0
    """Live mode: tokenize+pack actors; 0: a pool that grows from 1 to one per cluster CPU with the backlog."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise RangeError(f"sources: duplicate source name in {names}")
        for s in self.sources:
            if not s.paths:
                raise RangeError(f"sources.{s.name}.paths: no input paths given")
        if not self.output:
            raise RangeError("output: must not be empty")
        if not self.sample_sources or len(set(self.sample_sources)) != len(self.sample_sources):
            raise RangeError(f"sample_sources: {list(self.sample_sources)} must be distinct names, at least one")
        for name in self.sample_sources:
            check_name("sample_sources", name)
        check_ranges(self, {"sample_docs": Range(SAMPLE_MIN_DOCS, 10_000_000), "actor_num_cpus": Range(0, 1024),
                            "live_pack_actors": Range(0, 4096)})
