"""The benchmark's KServe baseline: the same artifact served by KServe's Python model server.

Run with the KServe virtualenv's Python (see bench/bench_serving.py), not the project's:
    python bench/serving_kserve_model.py --model_dir DIR --model_name NAME --http_port PORT
A minimal ``kserve.Model`` as a KServe user writes one: load the torch.export program, predict on
the event loop (KServe's default for synchronous ``predict``), answer OIP v2 JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import kserve
import torch
from kserve import InferOutput, InferRequest, InferResponse


class ExportedTorchModel(kserve.Model):  # type: ignore[misc]
    def __init__(self, name: str, model_dir: str) -> None:
        super().__init__(name)
        self.model_dir = Path(model_dir)
        self.module: Any = None
        self.load()

    def load(self) -> bool:
        manifest = json.loads((self.model_dir / "manifest.json").read_text())
        self.module = torch.export.load(str(self.model_dir / manifest["file"])).module()
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers: dict[str, str] | None = None) -> InferResponse:
        batch = payload.inputs[0].as_numpy()
        with torch.inference_mode():
            result = self.module(torch.from_numpy(batch)).numpy()
        output = InferOutput(name="output", shape=list(result.shape), datatype="FP32")
        output.set_data_from_numpy(result, binary_data=False)
        return InferResponse(model_name=self.name, infer_outputs=[output], response_id=payload.id or "")


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_dir", required=True)
    args, _ = parser.parse_known_args()
    model = ExportedTorchModel(args.model_name, args.model_dir)
    server = kserve.ModelServer(http_port=args.http_port, enable_grpc=False, enable_latency_logging=False)
    # Neither server logs each request in the benchmark (lepton-serve has no access log).
    for name in ("uvicorn.access", "kserve.trace"):
        logging.getLogger(name).setLevel(logging.WARNING)
    server.start([model])


if __name__ == "__main__":
    main()
