#!/usr/bin/env python3
"""Reference exporter: writes a randomly initialised torchvision VGG16 as ONNX.

Used only by Strata's tests and CI (never at runtime). The weights come from
`torch.manual_seed(seed)` followed by `torchvision.models.vgg16(weights=None)`, so
`run_layers.py --model-seed` with the same seed rebuilds exactly the same network.

Variants:
  features  `model.features` only, input "input" [N, 3, 224, 224], output [N, 512, 7, 7]
  full      the whole model (classifier included), one output [N, 1000]
  zoo       `model.features` exported at opset 7, then rewritten to look like the ONNX
            Model Zoo's vgg16-7 (converted from MXNet): input "data", nodes and tensors
            named "vgg0_conv0_fwd", "vgg0_relu0_fwd", "vgg0_pool0_fwd", weights
            "vgg0_conv0_weight", a fixed batch dimension of 1, IR version 3 with the
            initializers also listed as graph inputs. Strata must find the layers by
            topology, so the names must not matter.

Usage: export_vgg16.py --seed 0 --variant features --out vgg16.onnx
"""
import argparse
import sys

import torch
import torchvision


def build_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    # Always build the whole network (features + classifier) so the random stream, and
    # thus the feature weights, are the same whichever variant is exported.
    return torchvision.models.vgg16(weights=None).eval()


def rename_like_zoo(path: str) -> None:
    import onnx

    model = onnx.load(path)
    graph = model.graph
    # torch.onnx deduplicates equal initializers (all the zero biases) behind Identity nodes;
    # the zoo model has one initializer per parameter, so undo that.
    inits = {init.name: init for init in graph.initializer}
    kept_nodes = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
        else:
            kept_nodes.append(node)
    del graph.node[:]
    graph.node.extend(kept_nodes)
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    counters = {"Conv": 0, "Relu": 0, "MaxPool": 0}
    short = {"Conv": "conv", "Relu": "relu", "MaxPool": "pool"}
    renames = {}
    old_input = graph.input[0].name
    renames[old_input] = "data"
    for node in graph.node:
        if node.op_type not in counters:
            raise SystemExit(f"unexpected op {node.op_type} in features export")
        base = f"vgg0_{short[node.op_type]}{counters[node.op_type]}"
        counters[node.op_type] += 1
        node.name = f"{base}_fwd"
        renames[node.output[0]] = f"{base}_fwd"
        if node.op_type == "Conv":
            renames[node.input[1]] = f"{base}_weight"
            if len(node.input) > 2:
                renames[node.input[2]] = f"{base}_bias"

    def rn(name: str) -> str:
        return renames.get(name, name)

    for node in graph.node:
        node.input[:] = [rn(n) for n in node.input]
        node.output[:] = [rn(n) for n in node.output]
    for init in graph.initializer:
        init.name = rn(init.name)
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        vi.name = rn(vi.name)
    # Old IR: initializers are graph inputs too (as in the zoo's opset-7 models).
    data_input = onnx.ValueInfoProto()
    data_input.CopyFrom(graph.input[0])
    del graph.input[:]
    graph.input.append(data_input)
    for init in graph.initializer:
        graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    model.ir_version = 3
    # Fixed batch dimension of 1, like the zoo model.
    for vi in list(graph.input[:1]) + list(graph.output):
        dim0 = vi.type.tensor_type.shape.dim[0]
        dim0.ClearField("dim_param")
        dim0.dim_value = 1
    model.producer_name = "strata-zoo-like"
    onnx.save(model, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--variant", choices=["features", "full", "zoo"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--opset", type=int, default=13, help="opset for features/full (zoo always uses 7)")
    args = parser.parse_args()

    model = build_model(args.seed)
    dummy = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        if args.variant == "features":
            torch.onnx.export(
                model.features, dummy, args.out,
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                opset_version=args.opset, do_constant_folding=True,
            )
        elif args.variant == "full":
            torch.onnx.export(
                model, dummy, args.out,
                input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                opset_version=args.opset, do_constant_folding=True,
            )
        else:
            torch.onnx.export(
                model.features, dummy, args.out,
                input_names=["input"], output_names=["output"],
                opset_version=7, do_constant_folding=True,
            )
            rename_like_zoo(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
