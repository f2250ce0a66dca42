"""TFX components of the serving contract: infra validation, then an atomic, locked push.

    model (Format-Serving + warmup requests) --> InfraValidate --> infra_blessing --+
    model + model_blessing (Evaluator / EvaluateRankers) ----------------------------+
                                                                 --> PushAtomically --> pushed_model

Drop-in equivalents of the stock InfraValidator and Pusher for a local file system: the same
marker files and custom properties (`blessed`; `pushed`, `pushed_destination`,
`pushed_version`), so the stock Pusher also accepts InfraValidate's blessing as infra_blessing=.
"""

import os

from tfx import v1 as tfx

from cuttingedge.components import fileio
from cuttingedge.components.serving import infra_validation, push

standard = tfx.types.standard_artifacts
InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter

SERVING_DIR = "Format-Serving"  # where Trainer / EvaluateRankers export the SavedModel
BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"


def _serving_path(model) -> str:
    return fileio.join(model.uri, SERVING_DIR)


@tfx.dsl.components.component
def InfraValidate(
    model: InputArtifact[standard.Model],
    blessing: OutputArtifact[standard.InfraBlessing],
    timeout_s: Parameter[int] = 300,
) -> None:
    """Loads <model>/Format-Serving in a fresh process and replays its warmup requests; blesses
    the model (blessed=1, INFRA_BLESSED) or not (blessed=0, INFRA_NOT_BLESSED, and `reason`).
    Never raises on a bad model: the push is skipped instead, as with the stock InfraValidator."""
    result = infra_validation.validate_in_fresh_process(_serving_path(model), timeout_s)
    marker = BLESSED_FILE if result.ok else NOT_BLESSED_FILE
    fileio.write_text(fileio.join(blessing.uri, marker), "")
    blessing.set_int_custom_property("blessed", int(result.ok))
    blessing.set_string_custom_property("reason", result.reason)
    print(f"[serving] infra validation {'passed' if result.ok else 'FAILED'} "
          f"({result.requests} warmup requests, {result.seconds:.1f}s)"
          + ("" if result.ok else f": {result.reason}"))


@tfx.dsl.components.component
def PushAtomically(
    model: InputArtifact[standard.Model],
    model_blessing: InputArtifact[standard.ModelBlessing],
    infra_blessing: InputArtifact[standard.InfraBlessing],
    pushed_model: OutputArtifact[standard.PushedModel],
    serving_base: Parameter[str],
    lock_timeout_s: Parameter[int] = 600,
) -> None:
    """Pushes <model>/Format-Serving to <serving_base>/<version>/ atomically, under the serving
    folder's lock, when both blessings say blessed=1; otherwise records pushed=0 and does
    nothing. Like the stock Pusher, also archives the model in the pushed_model artifact."""
    verdicts = {"model_blessing": model_blessing.get_int_custom_property("blessed"),
                "infra_blessing": infra_blessing.get_int_custom_property("blessed")}
    if not all(v == 1 for v in verdicts.values()):
        pushed_model.set_int_custom_property("pushed", 0)
        refused = ", ".join(name for name, v in verdicts.items() if v != 1)
        print(f"[serving] NOT pushed: not blessed by {refused}")
        return
    source = _serving_path(model)
    with push.serving_lock(serving_base, timeout_s=lock_timeout_s):
        destination = push.push_atomically(source, serving_base)
    fileio.copy_tree(source, pushed_model.uri)
    pushed_model.set_int_custom_property("pushed", 1)
    pushed_model.set_string_custom_property("pushed_destination", destination)
    pushed_model.set_string_custom_property("pushed_version", fileio.basename(destination))
    print(f"[serving] pushed {destination}")
