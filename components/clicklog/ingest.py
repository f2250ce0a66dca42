"""Beam transforms that turn click-log files into per-query ranking records.

    files -> ReadClickLogFiles -> ParseClickRows --rejected--> dead letters
                                        |
                                  GroupClicksByQuery (bounded lists, display order)
                                        |
                                  ToRankingExamples -> split by hash(query_id) -> TFRecords

A query's list is capped at `max_list_size` documents inside a combiner, so a head query
with millions of candidates never sits in one worker's memory: each combiner keeps at most
`max_list_size` rows (the first by display position, or a deterministic hash sample), and
the number cut is counted and stored in the record (`candidates` - `list_size`).

Grouping ("grouping" in ClickLogIngestConfig):
  shuffle     (default) rows of a query may be anywhere in any file: a Beam shuffle
              (CombinePerKey) groups them. On a distributed runner the shuffle spills to
              disk; the DirectRunner holds it in memory, so its memory grows with the log.
  contiguous  each query's rows are consecutive in one file, as impression logs are
              written (one query id per impression, its documents together): every file
              is grouped as it is read (ReadQueryLists), with no shuffle, so time grows
              linearly and memory stays flat on any runner. Feature names come from a
              first, streaming read of every file. A query id that reappears after another
              query in the same file stops the run with an error naming the file, row and
              query; a query id split across files is not merged (two lists).
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from typing import Iterable

import apache_beam as beam

from cuttingedge.components import deadletter
from cuttingedge.components.clicklog import formats
from cuttingedge.components.clicklog.record import ClickLogColumns, ClickRow, RowError
from cuttingedge.components.clicklog.record import to_click_row
from cuttingedge.components.split import SplitConfig
from cuttingedge.components.write_examples import WriteSplitExamples

CAP_STRATEGIES = ("position", "sample")
GROUPINGS = ("shuffle", "contiguous")


@dataclasses.dataclass(frozen=True)
class ClickLogIngestConfig:
    """How to ingest a click log.

    Args:
      input_format: one of formats.FORMATS, or "auto" (by file extension).
      columns: the column mapping and label range.
      max_list_size: most documents kept per query.
      cap_strategy: "position" keeps the best-placed documents, "sample" keeps a deterministic
        uniform sample (by hashing `seed`, query id and doc id); both keep display order.
      splits: split names and weights; queries are assigned by hashing the query id.
      seed: seed of the "sample" strategy.
      max_rejected_fraction: the run fails when more than this fraction of rows is rejected.
      split_files: (file, split name) pairs: a file's rows go to that split.
      grouping: "shuffle" or "contiguous" (module docstring).
    """

    input_format: str = "auto"
    columns: ClickLogColumns = ClickLogColumns()
    max_list_size: int = 200
    cap_strategy: str = "position"
    splits: SplitConfig = SplitConfig()
    seed: int = 0
    max_rejected_fraction: float = 0.01
    split_files: tuple[tuple[str, str], ...] = ()
    grouping: str = "shuffle"

    def split_of(self, source: str, query_id: str) -> int:
        """Split index of a query: by hashing its id, or by the file it came from.

        With split_files, a file's rows go to its split; when no file is given for "test",
        one query in ten of the "train" files is carved out (by hash) as the test split.
        """
        names = self.splits.names
        if not self.split_files:
            return self.splits.index_of(query_id)
        name = dict(self.split_files)[source]
        assigned = {split for _, split in self.split_files}
        if name == "train" and "test" in names and "test" not in assigned:
            carve = SplitConfig((("train", 9), ("test", 1)))
            name = carve.names[carve.index_of(query_id)]
        return names.index(name)

    def __post_init__(self):
        if self.input_format != "auto" and self.input_format not in formats.FORMATS:
            raise ValueError(f"Unknown input_format {self.input_format!r}. Expected 'auto' or "
                             f"one of {list(formats.FORMATS)}.")
        if self.max_list_size < 1:
            raise ValueError(f"max_list_size must be >= 1. Received: {self.max_list_size}")
        if self.grouping not in GROUPINGS:
            raise ValueError(f"Unknown grouping {self.grouping!r}. Expected one of "
                             f"{list(GROUPINGS)}.")
        if self.cap_strategy not in CAP_STRATEGIES:
            raise ValueError(f"Unknown cap_strategy {self.cap_strategy!r}. Expected one of "
                             f"{list(CAP_STRATEGIES)}.")
        unknown = {name for _, name in self.split_files} - set(self.splits.names)
        if unknown:
            raise ValueError(f"Files are assigned to unknown split(s) {sorted(unknown)}. "
                             f"Expected some of {self.splits.names}.")
        if not 0 <= self.max_rejected_fraction <= 1:
            raise ValueError("max_rejected_fraction must be in [0, 1]. Received: "
                             f"{self.max_rejected_fraction}")


class ReadClickLogFiles(beam.PTransform):
    """Reads every row of the given files, spreading whole files over workers."""

    def __init__(self, files: list[str], input_format: str = "auto"):
        super().__init__()
        self._files = list(files)
        self._format = input_format

    def expand(self, pbegin):
        fmt = self._format
        return (pbegin
                | "Files" >> beam.Create(self._files)
                | "Spread" >> beam.Reshuffle()
                | "Read" >> beam.FlatMap(lambda path: formats.read_rows(path, fmt)))


class _ParseRow(beam.DoFn):
    REJECTED = "rejected"

    def __init__(self, columns: ClickLogColumns):
        self._columns = columns

    def process(self, raw: formats.RawRow):
        if raw.error is not None:
            yield beam.pvalue.TaggedOutput(self.REJECTED,
                                           deadletter.Rejected(raw.source, raw.row, raw.error,
                                                               raw.text))
            return
        try:
            yield to_click_row(raw.fields, self._columns, raw.source, raw.row)
        except RowError as err:
            record = raw.text or repr({k: v for k, v in raw.fields.items()})
            yield beam.pvalue.TaggedOutput(
                self.REJECTED, deadletter.Rejected(raw.source, raw.row, str(err), record))


class ParseClickRows(beam.PTransform):
    """Validates raw rows; returns a tuple of PCollections (rows, rejected)."""

    def __init__(self, columns: ClickLogColumns):
        super().__init__()
        self._columns = columns

    def expand(self, raw_rows):
        parsed = raw_rows | "Validate" >> beam.ParDo(_ParseRow(self._columns)).with_outputs(
            _ParseRow.REJECTED, main="rows")
        return parsed.rows, parsed[_ParseRow.REJECTED]


@dataclasses.dataclass
class QueryList:
    """One query's kept documents in display order, and how many candidates it had."""

    query_id: str
    rows: list[ClickRow]
    candidates: int
    split: int = 0


def _priority(row: ClickRow, strategy: str, seed: int) -> tuple:
    if strategy == "position":
        return (row.position, row.source, row.row)
    key = f"{seed}\x1f{row.query_id}\x1f{row.doc_id}\x1f{row.source}\x1f{row.row}"
    return (hashlib.blake2b(key.encode(), digest_size=8).digest(), row.source, row.row)


class KeepBoundedList(beam.CombineFn):
    """Keeps the `cap` rows of smallest priority and counts every row seen.

    The accumulator is (count, rows with their priority); it is pruned back to `cap` rows
    whenever it reaches 2 * cap, so it never holds more, however many candidates a query has.
    """

    def __init__(self, cap: int, strategy: str, seed: int):
        self._cap, self._strategy, self._seed = cap, strategy, seed

    def create_accumulator(self):
        return 0, []

    def add_input(self, accumulator, row):
        seen, kept = accumulator
        kept.append((_priority(row, self._strategy, self._seed), row))
        if len(kept) >= 2 * self._cap:  # prune in batches: amortised O(log cap) per row
            kept = heapq.nsmallest(self._cap, kept, key=lambda pair: pair[0])
        return seen + 1, kept

    def merge_accumulators(self, accumulators):
        seen, kept = 0, []
        for count, items in accumulators:
            seen += count
            kept.extend(items)
        return seen, heapq.nsmallest(self._cap, kept, key=lambda pair: pair[0])

    def extract_output(self, accumulator):
        seen, kept = accumulator
        kept = heapq.nsmallest(self._cap, kept, key=lambda pair: pair[0])
        rows = sorted((row for _, row in kept), key=lambda r: (r.position, r.source, r.row))
        return seen, rows


class GroupClicksByQuery(beam.PTransform):
    """Groups validated rows into one bounded `QueryList` per query id, in display order."""

    def __init__(self, max_list_size: int, cap_strategy: str = "position", seed: int = 0,
                 split_of=None):
        super().__init__()
        self._combine = KeepBoundedList(max_list_size, cap_strategy, seed)
        self._split_of = split_of or (lambda source, query_id: 0)

    def expand(self, rows):
        split_of = self._split_of
        return (rows
                | "KeyByQuery" >> beam.Map(
                    lambda row: ((split_of(row.source, row.query_id), row.query_id), row))
                | "KeepBoundedList" >> beam.CombinePerKey(self._combine)
                | "ToQueryList" >> beam.MapTuple(
                    lambda key, out: QueryList(key[1], out[1], out[0], key[0])))


class NotContiguousError(ValueError):
    """A query's rows are not consecutive in its file (grouping="contiguous")."""


def _parser(columns: ClickLogColumns):
    """raw row -> its ClickRow, or a TaggedOutput of the deadletter.Rejected record."""
    parse = _ParseRow(columns).process
    return lambda raw: next(iter(parse(raw)))


class _ReadQueryLists(beam.DoFn):
    """Reads one file whose query lists are contiguous: QueryLists, rejected rows, counts."""

    COUNTS = "counts"

    def __init__(self, config: ClickLogIngestConfig):
        self._config = config

    def process(self, path: str):
        config = self._config
        combine = KeepBoundedList(config.max_list_size, config.cap_strategy, config.seed)
        parse = _parser(config.columns)
        finished, current, accumulator, first, read = set(), None, None, None, 0

        def finish():
            seen, rows = combine.extract_output(accumulator)
            return QueryList(current, rows, seen, config.split_of(first.source, current))

        for raw in formats.read_rows(path, config.input_format):
            read += 1
            out = parse(raw)
            if isinstance(out, beam.pvalue.TaggedOutput):
                yield out
                continue
            if out.query_id != current:
                if current is not None:
                    yield finish()
                    finished.add(current)
                if out.query_id in finished:
                    raise NotContiguousError(
                        f"{path}, row {out.row}: query id {out.query_id!r} appears again after "
                        f"other queries, so its rows are not consecutive in the file. Ingest "
                        f"this log with grouping='shuffle' (--grouping shuffle), which groups "
                        f"rows wherever they are.")
                current, accumulator, first = out.query_id, combine.create_accumulator(), out
            accumulator = combine.add_input(accumulator, out)
        if current is not None:
            yield finish()
        yield beam.pvalue.TaggedOutput(self.COUNTS, deadletter.count("read", read))


def _names_in_file(path: str, config: ClickLogIngestConfig):
    """("feature" | "auxiliary", name) for every name on a valid row of the file (streamed)."""
    features, auxiliary, parse = set(), set(), _parser(config.columns)
    for raw in formats.read_rows(path, config.input_format):
        out = parse(raw)
        if not isinstance(out, beam.pvalue.TaggedOutput):
            features.update(out.features)
            auxiliary.update(out.auxiliary)
    return [("feature", n) for n in features] + [("auxiliary", n) for n in auxiliary]


class ReadQueryLists(beam.PTransform):
    """files -> (QueryLists, rejected rows, ("read", n) counts, feature names, auxiliary
    names) for logs whose query lists are contiguous in their files: no shuffle."""

    def __init__(self, files: list[str], config: ClickLogIngestConfig):
        super().__init__()
        self._files, self._config = list(files), config

    def expand(self, pbegin):
        config = self._config
        files = (pbegin
                 | "Files" >> beam.Create(self._files)
                 | "Spread" >> beam.Reshuffle())
        read = files | "GroupWhileReading" >> beam.ParDo(_ReadQueryLists(config)).with_outputs(
            _ParseRow.REJECTED, _ReadQueryLists.COUNTS, main="lists")
        # Its own Create: the names are a side input of the stage that reads the lists, and
        # sharing `files` would put the scan in that stage, so the lists would wait for the
        # names in the runner's memory instead of flowing straight to the writers.
        names = (pbegin
                 | "FilesToScan" >> beam.Create(self._files)
                 | "SpreadScan" >> beam.Reshuffle()
                 | "ScanNames" >> beam.FlatMap(_names_in_file, config))

        def sorted_names(kind):
            return (names
                    | f"Only[{kind}]" >> beam.Filter(lambda pair: pair[0] == kind)
                    | f"Name[{kind}]" >> beam.Map(lambda pair: pair[1])
                    | f"Distinct[{kind}]" >> beam.Distinct()
                    | f"ToList[{kind}]" >> beam.combiners.ToList()
                    | f"Sorted[{kind}]" >> beam.Map(sorted))

        return (read.lists, read[_ParseRow.REJECTED], read[_ReadQueryLists.COUNTS],
                sorted_names("feature"), sorted_names("auxiliary"))


def query_list_to_example(query: QueryList, feature_names: Iterable[str],
                          auxiliary_names: Iterable[str] = ()):
    """Serialises a QueryList as one tf.Example with a value per document in each list feature.

    Context features: query_id, query_text, list_size, candidates. Per-document features (all
    of length list_size, in display order): doc_id, doc_text, position, label, timestamp,
    every numeric feature (absent -> 0.0, the SVMlight convention) and auxiliary columns.
    """
    import tensorflow as tf

    rows = query.rows

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    def strings(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[v.encode("utf-8") for v in values]))

    feature = {
        "query_id": strings([query.query_id]),
        "query_text": strings([rows[0].query_text]),
        "list_size": ints([len(rows)]),
        "candidates": ints([query.candidates]),
        "doc_id": strings([r.doc_id for r in rows]),
        "doc_text": strings([r.doc_text for r in rows]),
        "position": ints([r.position for r in rows]),
        "label": floats([r.label for r in rows]),
        "timestamp": ints([r.timestamp for r in rows]),
    }
    for name in feature_names:
        feature[name] = floats([r.features.get(name, 0.0) for r in rows])
    for name in auxiliary_names:
        feature[name] = floats([r.auxiliary.get(name, 0.0) for r in rows])
    return tf.train.Example(features=tf.train.Features(feature=feature))


class IngestClickLogs(beam.PTransform):
    """Reads, validates, groups, splits and writes a click log.

    Writes `<examples_dir>/Split-<name>/data_tfrecord-*.gz` (the TFX Examples layout) and,
    in `dead_letter_dir`, rejected-*.jsonl and summary.json.
    """

    def __init__(self, files: list[str], config: ClickLogIngestConfig, examples_dir: str,
                 dead_letter_dir: str):
        super().__init__()
        self._files, self._config = files, config
        self._examples_dir, self._dead_letter_dir = examples_dir, dead_letter_dir

    def expand(self, pbegin):
        config = self._config
        if config.grouping == "contiguous":
            lists, rejected, read_counts, names, aux = pbegin | "ReadLists" >> ReadQueryLists(
                self._files, config)
        else:
            lists, rejected, read_counts, names, aux = self._shuffle(pbegin)
        _ = rejected | "WriteDeadLetter" >> deadletter.WriteDeadLetter(self._dead_letter_dir)
        splits = config.splits

        def to_split_example(query, feature_names, auxiliary_names):
            return query.split, query_list_to_example(query, feature_names, auxiliary_names)

        examples = lists | "ToExample" >> beam.Map(
            to_split_example, beam.pvalue.AsSingleton(names), beam.pvalue.AsSingleton(aux))
        _ = examples | "WriteExamples" >> WriteSplitExamples(self._examples_dir, splits.names)

        counts = (
            read_counts
            , (rejected | "CountRejected" >> beam.Map(lambda _: deadletter.count("rejected")))
            , (lists | "CountCut" >> beam.Map(
                lambda q: deadletter.count("documents_cut", q.candidates - len(q.rows))))
            , (examples | "CountLists" >> beam.Map(
                lambda pair: deadletter.count(f"lists_{splits.names[pair[0]]}")))
        ) | "AllCounts" >> beam.Flatten()
        defaults = {"read": 0, "rejected": 0, "documents_cut": 0}
        defaults.update({f"lists_{name}": 0 for name in splits.names})
        _ = counts | "Summary" >> deadletter.WriteSummary(self._dead_letter_dir, defaults)
        return lists

    def _shuffle(self, pbegin):
        """Rows grouped by a shuffle: (lists, rejected, read counts, names, auxiliary names)."""
        config = self._config
        raw = pbegin | "Read" >> ReadClickLogFiles(self._files, config.input_format)
        rows, rejected = raw | "Parse" >> ParseClickRows(config.columns)
        names = (rows
                 | "FeatureNames" >> beam.FlatMap(lambda r: list(r.features))
                 | "DistinctNames" >> beam.Distinct()
                 | "SortNames" >> beam.combiners.ToList()
                 | "Sorted" >> beam.Map(sorted))
        aux = (rows
               | "AuxNames" >> beam.FlatMap(lambda r: list(r.auxiliary))
               | "DistinctAux" >> beam.Distinct()
               | "SortAux" >> beam.combiners.ToList()
               | "SortedAux" >> beam.Map(sorted))
        lists = rows | "Group" >> GroupClicksByQuery(config.max_list_size, config.cap_strategy,
                                                     config.seed, config.split_of)
        read_counts = raw | "CountRead" >> beam.Map(lambda _: deadletter.count("read"))
        return lists, rejected, read_counts, names, aux
