"""TFX components of the ranking pipeline: LambdaMART baseline, and evaluation with blessing.

    Trainer (neural) --+
                       +--> EvaluateRankers --> model (neural or blend) + blessing --> Pusher
    TrainLambdaMart ---+

EvaluateRankers blesses the candidate only when it beats LambdaMART and the currently pushed
model (called through its serving signature) on eval NDCG@10.
"""

import os

from tfx import v1 as tfx

from cuttingedge.components import fileio
from cuttingedge.components.artifacts import Report

standard = tfx.types.standard_artifacts
InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter


def _schema_path(schema) -> str:
    return fileio.join(schema.uri, "schema.pbtxt")


def _lists(examples_uri, split, feature_names):
    from cuttingedge.trainers.ranking import data

    files = data.split_files(examples_uri, split)
    return data.load_lists(files, feature_names, max(1, data.max_list_size(files)))


@tfx.dsl.components.component
def TrainLambdaMart(
    examples: InputArtifact[standard.Examples],
    schema: InputArtifact[standard.Schema],
    model: OutputArtifact[standard.Model],
    num_trees: Parameter[int] = 300,
    num_leaves: Parameter[int] = 31,
    learning_rate: Parameter[float] = 0.05,
    seed: Parameter[int] = 0,
) -> None:
    """LightGBM lambdarank (LambdaMART) on the same features and splits as the neural ranker."""
    from cuttingedge.trainers.lambdamart.layout import padded_to_flat
    from cuttingedge.trainers.lambdamart.train import LambdaMartConfig, train_lambdamart
    from cuttingedge.trainers.ranking import data

    names = data.feature_names_from_schema(_schema_path(schema))
    train, evaluation = (_lists(examples.uri, s, names) for s in ("train", "eval"))
    flat, flat_eval = (padded_to_flat(s.numeric, s.label) for s in (train, evaluation))
    config = LambdaMartConfig(n_estimators=num_trees, num_leaves=num_leaves,
                              learning_rate=learning_rate, seed=seed,
                              early_stopping_rounds=50)
    booster = train_lambdamart(flat.features, flat.labels, flat.group_sizes, config,
                               eval_set=(flat_eval.features, flat_eval.labels,
                                         flat_eval.group_sizes))
    fileio.write_text(fileio.join(model.uri, "booster.txt"), booster.model_to_string())
    fileio.write_json(fileio.join(model.uri, "features.json"),
                      {"feature_names": names, "best_iteration": booster.best_iteration},
                      indent=None)


@tfx.dsl.components.component
def EvaluateRankers(
    examples: InputArtifact[standard.Examples],
    schema: InputArtifact[standard.Schema],
    neural: InputArtifact[standard.Model],
    lambdamart: InputArtifact[standard.Model],
    model: OutputArtifact[standard.Model],
    blessing: OutputArtifact[standard.ModelBlessing],
    evaluation: OutputArtifact[Report],
    serving_dir: Parameter[str] = "",
    report_dir: Parameter[str] = "",
) -> None:
    """Blends neural and LambdaMART scores, evaluates all three, exports the candidate and
    blesses it when it beats LambdaMART and the pushed model on eval NDCG@10."""
    import keras
    import lightgbm

    from cuttingedge.trainers.lambdamart.compile import compile_booster
    from cuttingedge.trainers.ranking import data, evaluate, serving
    from cuttingedge.trainers.ranking.trainer import TEXT

    names = data.feature_names_from_schema(_schema_path(schema))
    scorer = keras.models.load_model(fileio.join(neural.uri, "scorer.keras"))
    forest = compile_booster(lightgbm.Booster(model_str=fileio.read_text(
        fileio.join(lambdamart.uri, "booster.txt"))))
    scores = {}
    for split in ("eval", "test"):
        lists = _lists(examples.uri, split, names)
        scores[split] = (lists, evaluate.neural_scores(scorer, lists, TEXT),
                         evaluate.forest_scores(forest, lists))
    lists, neural_eval, trees_eval = scores["eval"]
    # Click labels are position-biased: weigh eval clicks by the inverse propensity the
    # neural ranker's position tower learned (None: plain labels, e.g. LETOR relevance).
    propensity = fileio.read_json(fileio.join(neural.uri, "ranker.json")).get("propensity")
    ips = evaluate.inverse_propensity_weights(lists, propensity)
    weight, search = evaluate.choose_weight(neural_eval, trees_eval, lists, item_weights=ips)
    ndcg = {"neural": search["0.0"], "lambdamart": search["1.0"], "ensemble": search[str(weight)]}
    test_lists, neural_test, trees_test = scores["test"]
    blended_test = evaluate.blend(neural_test, trees_test, test_lists.mask, weight)
    test = {name: evaluate.ranking_metrics_of(test_lists.label, s)
            for name, s in (("neural", neural_test), ("lambdamart", trees_test),
                            ("ensemble", blended_test))}
    truth = None
    if not (test_lists.true_relevance == test_lists.label).all():
        # Generated click logs carry the hidden true relevance: how well each model recovers it.
        truth = {name: evaluate.ranking_metrics_of(test_lists.true_relevance, s)
                 for name, s in (("neural", neural_test), ("lambdamart", trees_test),
                                 ("ensemble", blended_test))}
    candidate = "ensemble" if weight > 0 else "neural"
    serving_path = fileio.join(model.uri, "Format-Serving")
    serving.export(serving.RankingServer(scorer, names, TEXT, forest if weight > 0 else None,
                                         weight), serving_path)
    from cuttingedge.components.serving.warmup import write_warmup_requests

    write_warmup_requests(serving_path, [{"examples": evaluate.elwc_requests(
        lists, names, range(min(4, len(lists))))}], model_name="ranking")
    curve = {str(w): evaluate.ranking_metrics_of(
        test_lists.label, evaluate.blend(neural_test, trees_test, test_lists.mask, w))["ndcg_10"]
        for w in evaluate.WEIGHTS}
    result = evaluate.Comparison(weight, candidate, ndcg, test, search, truth, curve,
                                 eval_weighting="inverse propensity" if ips is not None
                                 else "none", propensity=propensity)
    versions = evaluate.pushed_versions(serving_dir) if serving_dir else []
    if versions:
        pushed = evaluate.served_scores(versions[-1], lists, names)
        ndcg["pushed"] = evaluate.ranking_metrics_of(lists.label, pushed, ips)["ndcg_10"]
    rivals = {k: v for k, v in ndcg.items() if k in ("lambdamart", "pushed")}
    result.blessed = all(ndcg[candidate] > v for v in rivals.values())
    result.reason = (f"{candidate} eval NDCG@10 {ndcg[candidate]:.4f} vs " +
                     ", ".join(f"{k} {v:.4f}" for k, v in rivals.items()))
    blessing.set_int_custom_property("blessed", int(result.blessed))
    blessing.set_string_custom_property("reason", result.reason)
    fileio.write_text(fileio.join(evaluation.uri, "evaluation.json"), result.to_json())
    with fileio.staged(evaluation.uri) as folder:
        evaluate.plot_comparison(test, os.path.join(folder, "evaluation.png"),
                                 f"Ranking on the test split (blend weight {weight:g})")
    print(f"[ranking] {'BLESSED' if result.blessed else 'NOT blessed'}: {result.reason}")
    if report_dir:
        fileio.copy_files(evaluation.uri, report_dir, ["evaluation.json", "evaluation.png"])
