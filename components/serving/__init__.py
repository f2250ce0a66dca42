"""The serving contract: what a pushed model must answer, and how it gets to the model server.

    request          PredictRequest <-> numpy; runs a request through a loaded signature
    warmup           assets.extra/tf_serving_warmup_requests (TF Serving's warmup file)
    infra_validation loads the SavedModel in a fresh process and replays the warmup requests
    push             atomic, versioned copies into a TF Serving model folder, under a lock
    client           gRPC and REST Predict clients of TF Serving
    testing          an in-process stand-in for TF Serving (a test double, not a server)
    components       the TFX adapters: InfraValidate, PushAtomically

Only `components` imports TFX; importing this package imports nothing.
"""
