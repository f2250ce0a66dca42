"""Builds the bundled Vaswani/NPL text-ranking sample: a click-log-format Parquet file.

Reads the Vaswani/NPL test collection as Terrier ships it (`corpus/doc-text.trec`,
`query-text.trec`, `qrels`) and writes `<out>/vaswani.parquet` with one row per
(query, candidate document). A query's candidates are its top 30 documents by BM25, then every
judged-relevant document not among them, each with a matched non-relevant document of nearby
BM25 rank (by BM25 score, positions continuing), so every one of the 93 queries has relevant
documents and a low BM25 score does not give relevance away.

Columns:
  query_id      query number, as a string
  query_text    the query, lower-cased (whitespace collapsed)
  doc_id        DOCNO
  doc_text      the document's first 60 whitespace tokens
  position      1-based rank in the candidate list (a retrieval rank, not a display position)
  label         1.0 if qrels judge the document relevant to the query, else 0.0
  f_bm25        Okapi BM25, k1=1.2, b=0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))
  f_tfidf       sum over query terms t in d of qtf * (1 + ln tf(t, d)) * ln(N / df(t))
  f_overlap     fraction of distinct query terms that occur in d
  f_doc_length  ln(1 + number of tokens of the whole document, stop words included)
  f_query_length  number of query terms (tokens after stop-word removal)
  f_idf_sum     sum of ln(N / df(t)) over distinct query terms t that occur in d

Terms: lower-case, split on non-alphanumerics, stop words (the list below) removed; N, df and
the BM25 document lengths count these terms over the whole corpus (11,429 documents).
Deterministic: rows in (query number, position) order; ties in BM25 broken by DOCNO.

    python benchmarks/make_vaswani_sample.py --source ../shared/data/vaswani_npl \\
        --out sample_data/vaswani
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import time
from collections import Counter

import numpy as np

TOP_K = 30
DOC_TEXT_TOKENS = 60
K1, B = 1.2, 0.75
FEATURES = ("f_bm25", "f_tfidf", "f_overlap", "f_doc_length", "f_query_length", "f_idf_sum")

# A small English stop-word list (function words only; no domain words such as "use").
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
""".split())

_TOKEN = re.compile(r"[a-z0-9]+")
_DOC = re.compile(r"<DOC>\s*<DOCNO>\s*(\d+)\s*</DOCNO>(.*?)</DOC>", re.S)
_QUERY = re.compile(r"<num>\s*(\d+)\s*</num>\s*<title>(.*?)</title>", re.S)


def tokenize(text: str) -> list[str]:
    """Lower-cases `text` and splits it on non-alphanumerics.

    Example:
      >>> tokenize("Band-pass FILTERS, 2 of them")
      ['band', 'pass', 'filters', '2', 'of', 'them']
    """
    return _TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """The indexed terms of `text`: its tokens without stop words."""
    return [t for t in tokenize(text) if t not in STOP_WORDS]


def read_documents(path: str) -> list[tuple[str, str]]:
    """Returns (DOCNO, text) for every <DOC> of a TREC file, in file order."""
    with open(path, encoding="utf-8") as handle:
        docs = [(no, " ".join(body.split())) for no, body in _DOC.findall(handle.read())]
    if not docs:
        raise ValueError(f"No <DOC><DOCNO>...</DOCNO>...</DOC> records in {path!r}. "
                         f"Expected Terrier's vaswani_npl corpus/doc-text.trec.")
    return docs


def read_queries(path: str) -> list[tuple[str, str]]:
    """Returns (query number, lower-cased text) for every <top> of a TREC topics file."""
    with open(path, encoding="utf-8") as handle:
        queries = [(no, " ".join(title.split()).lower())
                   for no, title in _QUERY.findall(handle.read())]
    if not queries:
        raise ValueError(f"No <num>...</num><title>...</title> topics in {path!r}. "
                         f"Expected Terrier's vaswani_npl query-text.trec.")
    return sorted(queries, key=lambda q: int(q[0]))


def read_qrels(path: str) -> dict[str, set[str]]:
    """Returns query number -> DOCNOs judged relevant (relevance > 0) in a TREC qrels file."""
    relevant: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 4:
                raise ValueError(f"{path}:{line_no}: expected 'qid 0 docno relevance', "
                                 f"got {line.strip()!r}")
            if int(fields[3]) > 0:
                relevant.setdefault(fields[0], set()).add(fields[2])
    return relevant


@dataclasses.dataclass(frozen=True)
class Index:
    """Term statistics of the corpus: per-term postings, document lengths, N and df."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (doc indices, tf)
    lengths: np.ndarray       # indexed terms per document
    full_lengths: np.ndarray  # all tokens per document, stop words included

    @property
    def size(self) -> int:
        return len(self.lengths)

    def idf(self, term: str) -> float:
        """ln(N / df); 0 for a term that occurs nowhere."""
        docs = self.postings.get(term)
        return math.log(self.size / len(docs[0])) if docs else 0.0

    def bm25_idf(self, term: str) -> float:
        """ln(1 + (N - df + 0.5) / (df + 0.5)); 0 for a term that occurs nowhere."""
        docs = self.postings.get(term)
        if not docs:
            return 0.0
        df = len(docs[0])
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))


def build_index(texts: list[str]) -> Index:
    """Indexes the documents' terms (stop words removed)."""
    lists: dict[str, tuple[list[int], list[int]]] = {}
    lengths, full_lengths = [], []
    for index, text in enumerate(texts):
        tokens = tokenize(text)
        kept = [t for t in tokens if t not in STOP_WORDS]
        lengths.append(len(kept))
        full_lengths.append(len(tokens))
        for term, tf in Counter(kept).items():
            docs, tfs = lists.setdefault(term, ([], []))
            docs.append(index)
            tfs.append(tf)
    postings = {t: (np.array(d, dtype=np.int64), np.array(f, dtype=np.float64))
                for t, (d, f) in lists.items()}
    return Index(postings, np.array(lengths, dtype=np.float64),
                 np.array(full_lengths, dtype=np.float64))


def score_query(index: Index, query_terms: list[str]) -> dict[str, np.ndarray]:
    """Every feature of one query against every document of the corpus (arrays of length N)."""
    n = index.size
    norm = K1 * (1.0 - B + B * index.lengths / index.lengths.mean())
    bm25, tfidf, idf_sum, present = (np.zeros(n) for _ in range(4))
    distinct = Counter(query_terms)
    for term, qtf in sorted(distinct.items()):
        if term not in index.postings:
            continue
        docs, tf = index.postings[term]
        bm25[docs] += qtf * index.bm25_idf(term) * tf * (K1 + 1.0) / (tf + norm[docs])
        tfidf[docs] += qtf * (1.0 + np.log(tf)) * index.idf(term)
        idf_sum[docs] += index.idf(term)
        present[docs] += 1.0
    return {
        "f_bm25": bm25,
        "f_tfidf": tfidf,
        "f_overlap": present / max(len(distinct), 1),
        "f_doc_length": np.log1p(index.full_lengths),
        "f_query_length": np.full(n, float(len(query_terms))),
        "f_idf_sum": idf_sum,
    }


def candidates(bm25: np.ndarray, doc_ids: list[str], relevant: set[str]) -> list[int]:
    """Top TOP_K documents by BM25, then each relevant one not among them together with the
    nearest-ranked non-relevant document (a matched negative), all by BM25.

    Without the matched negatives, "low BM25" would mean "relevant" inside the lists (every
    appended document would be relevant), and a ranker would learn that artefact.
    Ties are broken by DOCNO (as a number) so the order is deterministic.
    """
    docnos = np.array([int(d) for d in doc_ids])
    order = np.lexsort((docnos, -bm25))
    extra, taken = [], set()
    for rank in range(TOP_K, len(order)):
        if doc_ids[order[rank]] not in relevant:
            continue
        extra.append(rank)
        for step in range(1, len(order)):
            near = [r for r in (rank + step, rank - step)
                    if TOP_K <= r < len(order) and r not in taken
                    and doc_ids[order[r]] not in relevant]
            if near:
                taken.add(near[0])
                extra.append(near[0])
                break
    return [int(i) for i in order[:TOP_K]] + [int(order[r]) for r in sorted(extra)]


def build_rows(source: str) -> dict[str, list]:
    """All rows of the sample, column by column, in (query number, position) order."""
    docs = read_documents(os.path.join(source, "corpus", "doc-text.trec"))
    queries = read_queries(os.path.join(source, "query-text.trec"))
    qrels = read_qrels(os.path.join(source, "qrels"))
    doc_ids = [d for d, _ in docs]
    unknown = sorted({d for rel in qrels.values() for d in rel} - set(doc_ids), key=int)
    if unknown:
        raise ValueError(f"qrels name {len(unknown)} DOCNOs absent from the corpus, e.g. "
                         f"{unknown[:5]}. Expected every judged document in doc-text.trec.")
    index = build_index([t for _, t in docs])
    short_texts = [" ".join(t.split()[:DOC_TEXT_TOKENS]) for _, t in docs]
    columns: dict[str, list] = {name: [] for name in
                                ("query_id", "query_text", "doc_id", "doc_text", "position",
                                 "label") + FEATURES}
    for query_id, query_text in queries:
        relevant = qrels.get(query_id, set())
        features = score_query(index, terms(query_text))
        chosen = candidates(features["f_bm25"], doc_ids, relevant)
        for position, doc in enumerate(chosen, start=1):
            columns["query_id"].append(query_id)
            columns["query_text"].append(query_text)
            columns["doc_id"].append(doc_ids[doc])
            columns["doc_text"].append(short_texts[doc])
            columns["position"].append(position)
            columns["label"].append(1.0 if doc_ids[doc] in relevant else 0.0)
            for name in FEATURES:
                columns[name].append(float(features[name][doc]))
    return columns


def write_parquet(columns: dict[str, list], path: str) -> None:
    """Writes the columns as one zstd-compressed Parquet file (strings, int64, float64)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [(name, pa.string()) for name in ("query_id", "query_text", "doc_id", "doc_text")]
        + [("position", pa.int64()), ("label", pa.float64())]
        + [(name, pa.float64()) for name in FEATURES])
    table = pa.table(columns, schema=schema)
    tmp = path + ".tmp"
    pq.write_table(table, tmp, compression="zstd", compression_level=19)
    os.replace(tmp, path)


def summary(columns: dict[str, list]) -> str:
    """Counts for SOURCE.md: rows, queries, label balance, list sizes."""
    labels = np.array(columns["label"])
    sizes = Counter(columns["query_id"]).values()
    return (f"rows={len(labels)} queries={len(sizes)} relevant={int(labels.sum())} "
            f"non_relevant={int((labels == 0).sum())} relevant_fraction={labels.mean():.4f} "
            f"list_size min={min(sizes)} max={max(sizes)} mean={np.mean(list(sizes)):.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True,
                        help="folder holding corpus/doc-text.trec, query-text.trec and qrels")
    parser.add_argument("--out", required=True, help="output folder for vaswani.parquet")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    columns = build_rows(args.source)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "vaswani.parquet")
    write_parquet(columns, path)
    print(f"wrote {path} ({os.path.getsize(path):,} bytes) in "
          f"{time.perf_counter() - start:.1f}s: {summary(columns)}")


if __name__ == "__main__":
    main()
