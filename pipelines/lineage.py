"""Where a pushed model came from, read back from ML Metadata.

    cuttingedge lineage runs/serving/anomaly/1700000000

Finds the PushedModel artifact whose `pushed_destination` is the given folder (or the artifact
whose URI it is) in <output>/metadata.sqlite, then walks the events back: the execution that
pushed it and its pipeline run, the Model artifacts and the executions that produced them (with
their exec properties and any tuned hyperparameters), the Examples, the Schema and the
blessings. `describe()` returns all of it as a JSON-ready dict; `format_tree()` prints it.
"""

from __future__ import annotations

import json
import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

METADATA_FILE = "metadata.sqlite"
EXPECTED = ("a folder <output>/serving/<model>/<version>/ that a pipeline pushed (a PushedModel "
            "whose pushed_destination is that folder) or the URI of a pipeline artifact")
_Event = metadata_store_pb2.Event
_OUTPUTS = {_Event.OUTPUT, _Event.DECLARED_OUTPUT, _Event.INTERNAL_OUTPUT}
_INPUTS = {_Event.INPUT, _Event.DECLARED_INPUT, _Event.INTERNAL_INPUT}
_HYPERPARAMETER_FILES = ("best_hyperparameters.json", "best_hyperparameters.txt")


class LineageError(ValueError):
    """The path is not something ML Metadata knows; reported in one line."""


def _normalise(path: str) -> str:
    path = str(path).rstrip("/") or "/"
    return path if "://" in path else os.path.realpath(os.path.abspath(path))


def find_metadata(model_dir: str) -> str:
    """<output>/metadata.sqlite for a folder under <output> (serving/<model>/<version>, or a
    pipeline artifact under pipelines/<pipeline>/...): the nearest one above `model_dir`."""
    if "://" not in model_dir:
        folder = _normalise(model_dir)
        while True:
            candidate = os.path.join(folder, METADATA_FILE)
            if os.path.isfile(candidate):
                return candidate
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    raise LineageError(f"No ML Metadata ({METADATA_FILE}) above {model_dir!r}: expected "
                       f"{EXPECTED}, under an output root holding {METADATA_FILE}; or give "
                       f"--metadata PATH.")


def _open(metadata_path: str) -> mlmd.MetadataStore:
    if not os.path.isfile(metadata_path):
        raise FileNotFoundError(f"ML Metadata file {metadata_path!r} does not exist.")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        store = mlmd.MetadataStore(config)
        store.get_artifact_types()
    except Exception as err:  # MLMD raises its own error classes, one per status code
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise LineageError(f"{metadata_path!r} is not an ML Metadata database: {reason}") \
            from None
    return store


def _value(value: metadata_store_pb2.Value):
    kind = value.WhichOneof("value")
    if kind == "struct_value":
        from google.protobuf import json_format

        found = json_format.MessageToDict(value.struct_value)
        return found.get("__value__", found)
    if kind == "proto_value":
        return str(value.proto_value)
    return getattr(value, kind) if kind else None


def _maybe_json(value):
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _properties(node, skip_internal: bool = True) -> dict:
    found = {}
    for props in (node.properties, node.custom_properties):
        for key, value in props.items():
            if skip_internal and (key.startswith("__") or key in ("tfx_version", "is_external")):
                continue
            found[key] = _maybe_json(_value(value))
    return dict(sorted(found.items()))


class _Graph:
    """Upstream lineage of one artifact: every execution and artifact it depends on."""

    def __init__(self, store: mlmd.MetadataStore):
        self.store = store
        self.artifact_types = {t.id: t.name for t in store.get_artifact_types()}
        self.execution_types = {t.id: t.name for t in store.get_execution_types()}
        self.context_types = {t.id: t.name for t in store.get_context_types()}
        self.artifacts: dict[int, dict] = {}
        self.executions: dict[int, dict] = {}

    # -- artifacts and executions as dicts ------------------------------------------------
    def artifact(self, artifact_id: int) -> dict:
        if artifact_id not in self.artifacts:
            (found,) = self.store.get_artifacts_by_id([artifact_id])
            self.artifacts[artifact_id] = {
                "id": found.id, "type": self.artifact_types.get(found.type_id, "?"),
                "uri": found.uri, "properties": _properties(found),
                "created": found.create_time_since_epoch, "producer": None}
            self.artifacts[artifact_id]["producer"] = self._producer(artifact_id)
        return self.artifacts[artifact_id]

    def _producer(self, artifact_id: int) -> int | None:
        """The execution that wrote the artifact: the first one with an output event (later
        ones are cached executions re-publishing it)."""
        outputs = [e for e in self.store.get_events_by_artifact_ids([artifact_id])
                   if e.type in _OUTPUTS]
        if not outputs:
            return None
        first = min(outputs, key=lambda e: (e.milliseconds_since_epoch, e.execution_id))
        self.execution(first.execution_id)
        return first.execution_id

    def execution(self, execution_id: int) -> dict:
        if execution_id in self.executions:
            return self.executions[execution_id]
        (found,) = self.store.get_executions_by_id([execution_id])
        contexts = self.store.get_contexts_by_execution(execution_id)
        by_type: dict[str, list[str]] = {}
        for context in contexts:
            by_type.setdefault(self.context_types.get(context.type_id, "?"), []).append(
                context.name)
        type_name = self.execution_types.get(found.type_id, "?")
        node = (by_type.get("node") or [""])[0]
        record = {
            "id": found.id, "type": type_name,
            "component": node.split(".", 1)[-1] if node else type_name.rsplit(".", 1)[-1],
            "state": metadata_store_pb2.Execution.State.Name(found.last_known_state),
            "pipeline": (by_type.get("pipeline") or [None])[0],
            "run": (by_type.get("pipeline_run") or [None])[0],
            "properties": _properties(found), "inputs": {}, "outputs": {}}
        self.executions[execution_id] = record
        for event in self.store.get_events_by_execution_ids([execution_id]):
            key = event.path.steps[0].key if event.path.steps else ""
            side = "inputs" if event.type in _INPUTS else \
                "outputs" if event.type in _OUTPUTS else None
            if side:
                record[side].setdefault(key, []).append(event.artifact_id)
        for ids in record["inputs"].values():  # walk upstream
            for artifact_id in ids:
                self.artifact(artifact_id)
        return record

    # -- queries --------------------------------------------------------------------------
    def of_type(self, type_name: str) -> list[dict]:
        return sorted((a for a in self.artifacts.values() if a["type"] == type_name),
                      key=lambda a: a["id"], reverse=True)

    def consumers(self, artifact_id: int) -> list[int]:
        return sorted({e.execution_id for e in self.store.get_events_by_artifact_ids(
            [artifact_id]) if e.type in _INPUTS})

    def outputs_of(self, execution_id: int, type_name: str) -> list[int]:
        ids = [e.artifact_id for e in self.store.get_events_by_execution_ids([execution_id])
               if e.type in _OUTPUTS]
        return [a.id for a in self.store.get_artifacts_by_id(ids)
                if self.artifact_types.get(a.type_id) == type_name]


def _find_target(store: mlmd.MetadataStore, model_dir: str, metadata: str):
    wanted = _normalise(model_dir)
    pushed_type = [t.id for t in store.get_artifact_types() if t.name == "PushedModel"]
    pushed = store.get_artifacts_by_type("PushedModel") if pushed_type else []
    for artifact in sorted(pushed, key=lambda a: a.id, reverse=True):
        destination = artifact.custom_properties.get("pushed_destination")
        if destination is not None and destination.string_value and \
                _normalise(destination.string_value) == wanted:
            return artifact
    by_uri = [a for a in store.get_artifacts() if a.uri and _normalise(a.uri) == wanted]
    if by_uri:
        return max(by_uri, key=lambda a: a.id)
    known = sorted((a.custom_properties["pushed_destination"].string_value for a in pushed
                    if "pushed_destination" in a.custom_properties), reverse=True)
    hint = f" Pushed models it knows: {', '.join(known[:3])}" + \
        (", ..." if len(known) > 3 else "") + "." if known else " It knows no pushed model."
    raise LineageError(f"{model_dir!r} is not a pushed model or artifact in {metadata}: "
                       f"expected {EXPECTED}.{hint}")


def _hyperparameters(graph: _Graph, model: dict) -> tuple[dict | None, str | None]:
    """Tuned hyperparameters of a model: a best_hyperparameters file beside it, else the
    HyperParameters artifact (Tuner / TuneLogos best_hyperparameters) its producer read."""
    folders = [model["uri"]]
    producer = graph.executions.get(model["producer"]) if model["producer"] else None
    if producer:
        folders += [graph.artifacts[i]["uri"] for ids in producer["inputs"].values() for i in ids
                    if graph.artifacts[i]["type"] == "HyperParameters"]
    for folder in folders:
        for name in _HYPERPARAMETER_FILES:
            path = os.path.join(folder, name)
            if "://" in path or not os.path.isfile(path):
                continue
            try:
                with open(path) as handle:
                    found = json.load(handle)
            except (OSError, ValueError):
                continue
            if isinstance(found, dict) and isinstance(found.get("values"), dict):
                found = found["values"]  # keras_tuner.HyperParameters.get_config()
            return found, path
    return None, None


def _schemas(graph: _Graph, run: str | None) -> tuple[list[dict], str]:
    """Schemas read upstream (e.g. by Trainer); else the one inferred from the examples'
    statistics (StatisticsGen -> SchemaGen), preferring the same pipeline run."""
    direct = graph.of_type("Schema")
    if direct:
        return direct, "an input upstream of the model"
    found = []
    for examples in graph.of_type("Examples"):
        for stats_execution in graph.consumers(examples["id"]):
            for stats in graph.outputs_of(stats_execution, "ExampleStatistics"):
                for schema_execution in graph.consumers(stats):
                    found += graph.outputs_of(schema_execution, "Schema")
    schemas = [graph.artifact(i) for i in sorted(set(found), reverse=True)]
    same_run = [s for s in schemas if s["producer"] and
                graph.executions[s["producer"]]["run"] == run]
    return (same_run or schemas), "built from these examples' statistics"


def describe(model_dir: str, metadata: str | None = None) -> dict:
    """The lineage of a pushed model folder (or a pipeline artifact URI) as a JSON-ready dict.

    Raises:
      LineageError: no ML Metadata above the folder, or the folder is not a pushed model.
    """
    metadata = metadata or find_metadata(model_dir)
    store = _open(metadata)
    graph = _Graph(store)
    target = graph.artifact(_find_target(store, model_dir, metadata).id)
    producer = graph.executions.get(target["producer"]) if target["producer"] else None
    run = producer["run"] if producer else None
    models = ([target] if target["type"] == "Model" else []) + \
        [m for m in graph.of_type("Model") if m["id"] != target["id"]]
    for model in models:
        model["hyperparameters"], model["hyperparameters_file"] = _hyperparameters(graph, model)
    schemas, schema_source = _schemas(graph, run)
    blessings = [a for a in graph.artifacts.values() if a["type"].endswith("Blessing")]
    return {
        "path": model_dir, "metadata": metadata, "artifact": target,
        "pipeline": producer["pipeline"] if producer else None, "run": run,
        "produced_by": producer, "models": models, "examples": graph.of_type("Examples"),
        "schemas": schemas, "schema_source": schema_source,
        "blessings": sorted(blessings, key=lambda a: a["id"]),
        "executions": [graph.executions[i] for i in sorted(graph.executions)],
        "artifacts": [graph.artifacts[i] for i in sorted(graph.artifacts)],
    }


# -- the readable tree ---------------------------------------------------------------------
def _short(value, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _by(found: dict, execution_id) -> str:
    if execution_id is None:
        return "imported (no producing execution)"
    execution = next(e for e in found["executions"] if e["id"] == execution_id)
    return f"from {execution['component']} (execution {execution_id}, {execution['state']})"


def _blessing_line(blessing: dict) -> str:
    props = blessing["properties"]
    line = f"{blessing['type']} blessed={props.get('blessed', '?')}"
    if props.get("reason"):
        line += f" ({_short(props['reason'], 80)})"
    return line


def format_tree(found: dict) -> str:
    """A readable summary of `describe()`, then the provenance tree."""
    target, lines = found["artifact"], []
    props = target["properties"]
    if target["type"] == "PushedModel":
        lines.append(f"Pushed model  {props.get('pushed_destination', found['path'])}"
                     f" (version {props.get('pushed_version', '?')}, pushed={props.get('pushed')})")
    else:
        lines.append(f"Artifact      {target['type']} {target['uri']}")
    lines += [f"Pipeline      {found['pipeline']}", f"Run           {found['run']}",
              f"Metadata      {found['metadata']}"]
    if found["produced_by"]:
        lines.append(f"Written by    {found['produced_by']['component']} "
                     f"(execution {found['produced_by']['id']}) into {target['uri']}")
    for model in found["models"]:
        lines.append(f"Model         {model['uri']}  {_by(found, model['producer'])}")
        producer = next((e for e in found["executions"] if e["id"] == model["producer"]), None)
        for key, value in (producer or {}).get("properties", {}).items():
            lines.append(f"    {key:22s} {_short(value)}")
        if model["hyperparameters"] is not None:
            lines.append(f"    hyperparameters        {_short(model['hyperparameters'], 200)}")
            lines.append(f"      (from {model['hyperparameters_file']})")
        else:
            lines.append("    hyperparameters        none tuned (no best_hyperparameters file "
                         "or Tuner output)")
    for examples in found["examples"]:
        splits = examples["properties"].get("split_names")
        lines.append(f"Examples      {examples['uri']}"
                     + (f" splits {','.join(splits)}" if isinstance(splits, list) else "")
                     + f"  {_by(found, examples['producer'])}")
    for schema in found["schemas"]:
        lines.append(f"Schema        {schema['uri']}  {_by(found, schema['producer'])}, "
                     f"{found['schema_source']}")
    if not found["schemas"]:
        lines.append("Schema        none found")
    for blessing in found["blessings"]:
        lines.append(f"Blessing      {_blessing_line(blessing)}  {blessing['uri']}  "
                     f"{_by(found, blessing['producer'])}")
    lines += ["", "Provenance (inputs of each execution, back to the data):"]
    lines += _tree(found, target["id"], "", True, set())
    return "\n".join(lines)


def _tree(found: dict, artifact_id: int, prefix: str, last: bool, shown: set) -> list[str]:
    artifacts = {a["id"]: a for a in found["artifacts"]}
    executions = {e["id"]: e for e in found["executions"]}
    artifact = artifacts[artifact_id]
    extra = ""
    if "blessed" in artifact["properties"]:
        extra = f" blessed={artifact['properties']['blessed']}"
    lines = [f"{prefix}{'`-- ' if last else '|-- '}{artifact['type']} #{artifact_id} "
             f"{artifact['uri']}{extra}"]
    child = prefix + ("    " if last else "|   ")
    execution_id = artifact["producer"]
    if execution_id is None:
        return lines
    execution = executions[execution_id]
    if execution_id in shown:
        lines.append(f"{child}`-- <- {execution['component']} (execution {execution_id}, "
                     f"shown above)")
        return lines
    shown.add(execution_id)
    lines.append(f"{child}`-- <- {execution['component']} (execution {execution_id}, "
                 f"{execution['state']}, run {execution['run']})")
    inputs = sorted(((key, i) for key, ids in execution["inputs"].items() for i in ids),
                    key=lambda item: (artifacts[item[1]]["type"] != "Model", item[0]))
    for number, (key, input_id) in enumerate(inputs):
        sub = _tree(found, input_id, child + "    ", number == len(inputs) - 1, shown)
        sub[0] = sub[0].replace(f"{artifacts[input_id]['type']} #",
                                f"{key}: {artifacts[input_id]['type']} #", 1)
        lines += sub
    return lines
