"""Apache Beam's DaskRunner with three of its defects fixed, for the project's pipelines.

Beam 2.74's DaskRunner (apache_beam/runners/dask) translates a pipeline into Dask bags, but:
  * it computes only the bag of the LAST visited transform: every other sink of a branching
    pipeline silently never runs;
  * its ParDo gives ALL outputs of a multi-output ParDo (`with_outputs`, `beam.Partition`) to
    the consumers of each tag;
  * it collects a bundle's outputs before `finish_bundle`, so what a DoFn emits there is lost
    (Beam's file sinks report their written files from finish_bundle: nothing is finalised).

`DaskRunner` here keeps Beam's translations and fixes exactly these: one bag per output
PCollection (ParDo outputs routed by tag), finish_bundle outputs kept, and every unconsumed
PCollection computed. The project's transforms run on it unchanged and give the same outputs
as on the DirectRunner (tests/scale/test_runners.py). Side inputs are still evaluated by
recomputing their bag inside the consuming task (Beam's DaskBagWindowedIterator): correct, but
upstream work is repeated.

Use it through Beam's own options, by class path:

    cuttingedge ingest clicks ... -- \\
        --runner=cuttingedge.pipelines.dask_runner.DaskRunner \\
        --dask_client_address=tcp://scheduler:8786

(`pip install 'cuttingedge[dask]'` brings dask.distributed.) The result's `client` is the Dask
client the runner opened; `wait_until_finish()` closes it.
"""

from __future__ import annotations

import functools

import apache_beam as beam
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.dask import dask_runner as _beam_dask
from apache_beam.runners.dask import transform_evaluator as _te
from apache_beam.transforms.sideinputs import SideInputMap


def apply_dofn_keeping_tags(items, invoker_args, invoker_kwargs, receivers):
    """Like Beam's transform_evaluator.apply_dofn_to_bundle, but keeps finish_bundle's outputs
    and each output's tag: returns (tag, value) pairs, tag None for the main output."""
    from apache_beam.runners.common import DoFnInvoker

    invoker = DoFnInvoker.create_invoker(*invoker_args, **invoker_kwargs)
    del receivers.values[:]
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(item)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    pairs = [(v.tag, v.value) if isinstance(v, beam.pvalue.TaggedOutput) else (None, v.value)
             for v in receivers.values]
    del receivers.values[:]
    return pairs


def tagged_pardo_bag(op, input_bag, side_inputs):
    """Beam's ParDo translation with `apply_dofn_keeping_tags` as the bundle step: a bag of
    (tag, value) pairs."""
    from apache_beam.runners.common import DoFnContext, DoFnSignature, _OutputHandler

    transform = op.transform
    args, kwargs = transform.raw_side_inputs
    main_input = next(iter(op.applied.main_inputs.values()))
    window_fn = getattr(getattr(main_input, "windowing", None), "windowfn", None)
    receivers = _te.OneReceiver()
    invoker_args = [DoFnSignature(transform.fn), _OutputHandler(
        window_fn=window_fn, main_receivers=receivers[None], tagged_receivers=receivers,
        per_element_output_counter=None, output_batch_converter=None,
        process_yields_batches=False, process_batch_yields_elements=False)]
    invoker_kwargs = dict(context=DoFnContext(transform.label, state=None),
                          side_inputs=side_inputs, input_args=list(args), input_kwargs=kwargs,
                          user_state_context=None,
                          bundle_finalizer_param=beam.DoFn.BundleFinalizerParam())
    return input_bag.map(_te.get_windowed_value, window_fn).map_partitions(
        apply_dofn_keeping_tags, invoker_args, invoker_kwargs, receivers)


def _select(pair, tag):
    return pair[0] == tag


def _value(pair):
    return pair[1]


class _BagBuilder(PipelineVisitor):
    """Translates every transform into Dask bags, one per output PCollection."""

    def __init__(self, bag_kwargs):
        self.bag_kwargs, self.bags, self.consumed = bag_kwargs, {}, set()

    def visit_transform(self, node):
        op = _te.TRANSLATIONS.get(node.transform.__class__, _te.NoOp)(
            node, bag_kwargs=self.bag_kwargs)
        inputs = [None if isinstance(value, beam.pvalue.PBegin) else self.bags[value]
                  for value in node.inputs]
        self.consumed.update(node.inputs)
        if len(inputs) == 1 and not isinstance(op, _te.Flatten):
            inputs = inputs[0]
        side_inputs = [SideInputMap(type(si), si._view_options(), _te.DaskBagWindowedIterator(
            self.bags[si.pvalue], si._window_mapping_fn)) for si in node.side_inputs]
        self.consumed.update(si.pvalue for si in node.side_inputs)
        if isinstance(op, _te.ParDo):
            pairs = tagged_pardo_bag(op, inputs, side_inputs or None)
            for pcoll in node.outputs.values():
                self.bags[pcoll] = pairs.filter(functools.partial(_select, tag=pcoll.tag)).map(
                    _value)
        else:
            bag = op.apply(input_bag=inputs if node.inputs else None,
                           side_inputs=side_inputs or None)
            for pcoll in node.outputs.values():
                self.bags[pcoll] = bag

    def leaves(self) -> list:
        """The bags of PCollections nothing consumes: computing them runs every sink."""
        return [bag for pcoll, bag in self.bags.items()
                if pcoll not in self.consumed and bag is not None]


class DaskRunnerResult(_beam_dask.DaskRunnerResult):
    """Beam's result; `wait_until_finish` also closes the runner's Dask client."""

    def wait_until_finish(self, duration=None):
        try:
            return super().wait_until_finish(duration)
        finally:
            self.client.close()


class DaskRunner(_beam_dask.DaskRunner):
    """Beam's DaskRunner with the fixes of the module docstring."""

    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed as ddist

        dask_options = options.view_as(_beam_dask.DaskOptions).get_all_options(
            drop_default=True, current_only=True)
        bag_kwargs = _beam_dask.DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        pipeline.replace_all(_beam_dask.dask_overrides())
        builder = _BagBuilder(bag_kwargs)
        pipeline.visit(builder)
        return DaskRunnerResult(client, client.compute(dask.optimize(*builder.leaves())))
