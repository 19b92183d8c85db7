"""Shaping converted ONNX graphs: named inputs, fixed output names, and a canonical hash.

Converters differ in what they hand back: skl2onnx and onnxmltools take one ``[N, F]`` float
input for a bare estimator, name a regressor's output ``variable``, and write a random id into
the graph's name (so two conversions of one model differ byte for byte). Here every graph is
brought to one shape, so serving and the fingerprint need not know which library made it:

- one input per feature, ``[N, 1]``, named as the feature (float for numbers, string for
  text), in the signature's order (:func:`per_feature_inputs` puts a ``Concat`` in front of a
  graph that takes one ``[N, F]`` tensor);
- outputs ``label`` and ``probabilities`` (classification) or ``prediction`` (regression)
  (:func:`rename_outputs`);
- no generated names: graph name, doc strings and node names cleared (:func:`canonical`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import onnx
from onnx import TensorProto, helper

GRAPH_NAME = "goldenpath"
# Internal value names start with this; a feature may not (refused in packaging).
RESERVED_PREFIX = "__gp_"


def per_feature_inputs(model: onnx.ModelProto, features: Sequence[str]) -> onnx.ModelProto:
    """Replace the graph's single ``[N, F]`` float input by one ``[N, 1]`` float input per
    feature, concatenated in ``features`` order (the column order the model was fitted on)."""
    graph = model.graph
    (original,) = list(graph.input)
    joined = RESERVED_PREFIX + "features"
    for node in graph.node:
        node.input[:] = [joined if name == original.name else name for name in node.input]
    del graph.input[:]
    graph.input.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1]) for name in features
    )
    concat = helper.make_node("Concat", list(features), [joined], axis=1)
    graph.node.insert(0, concat)
    return model


def rename_outputs(model: onnx.ModelProto, names: Mapping[str, str]) -> onnx.ModelProto:
    """Expose output ``old`` as ``names[old]`` (through an Identity node)."""
    graph = model.graph
    for output in graph.output:
        new = names.get(output.name)
        if new is None or new == output.name:
            continue
        graph.node.append(helper.make_node("Identity", [output.name], [new]))
        output.name = new
    return model


def canonical(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` without generated names: the graph's name fixed, doc strings and node names
    cleared (in subgraphs too). Changes ``model`` in place and returns it."""
    model.doc_string = ""
    _clear(model.graph)
    model.graph.name = GRAPH_NAME
    return model


def _clear(graph: onnx.GraphProto) -> None:
    graph.doc_string = ""
    graph.name = ""
    for node in graph.node:
        node.name = ""
        node.doc_string = ""
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _clear(attribute.g)
            for sub in attribute.graphs:
                _clear(sub)


def graph_hash(data: bytes) -> str:
    """The sha256 of an ONNX model's canonical form (:func:`canonical`, serialised
    deterministically): equal for two conversions of the same fitted model."""
    model = onnx.load_model_from_string(data)
    return hashlib.sha256(canonical(model).SerializeToString(deterministic=True)).hexdigest()


def serialise(model: onnx.ModelProto) -> bytes:
    return bytes(canonical(model).SerializeToString(deterministic=True))
