"""The transport-independent data plane: a repository of served models and what each request asks.

REST handlers decode a request (:mod:`lepton.serving.codec`), call the data plane, and encode what it
returns; everything about models — lookup, readiness, validation against the model's signature,
batching — happens here and raises :mod:`lepton.serving.errors` for the transport to map.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any

import numpy.typing as npt

import lepton
from lepton.serving.batching import DynamicBatcher
from lepton.serving.codec import DecodedRequest
from lepton.serving.errors import InferenceFailed, InvalidInput, ModelNotFound, ServerNotReady
from lepton.serving.metrics import ServingMetrics
from lepton.serving.model import ModelRunner, TensorSpec
from lepton.serving.protocol import ModelMetadata, ServerMetadata, TensorMetadata

log = logging.getLogger(__name__)

Outputs = list[tuple[str, npt.NDArray[Any]]]


class ServedModel:
    """One model version: loading state, its runner and batcher, and request validation."""

    def __init__(
        self,
        name: str,
        version: str,
        metrics: ServingMetrics,
        *,
        max_batch_size: int = 32,
        max_latency_s: float = 0.005,
        load_wait_s: float = 30.0,
    ) -> None:
        self.name = name
        self.version = version
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_s
        self.load_wait_s = load_wait_s
        self.runner: ModelRunner | None = None
        self.batcher: DynamicBatcher | None = None
        self.failure: str | None = None
        self._settled = asyncio.Event()
        self._ready_gauge = metrics.model_ready.labels(name, version)
        self._ready_gauge.set(0)
        # The series the autoscaler reads exist from the start, at zero: a service that has not been
        # asked anything yet then reads as 0 requests/s (evidence, e.g. to stay at minReplicas or go
        # to zero) instead of as no series at all (no data, which never scales down).
        metrics.requests.labels(name, version, "200")
        metrics.request_duration.labels(name, version)
        metrics.inflight.labels(name, version).set(0)
        metrics.queue_depth.labels(name, version).set(0)

    @property
    def ready(self) -> bool:
        return self.batcher is not None

    def set_ready(self, runner: ModelRunner, executor: Executor) -> None:
        inference = self.metrics.inference_duration.labels(self.name, self.version)

        def run(batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
            start = time.perf_counter()
            try:
                return runner(batch)
            finally:
                inference.observe(time.perf_counter() - start)

        # A fixed leading dimension is not a batch dimension: such requests must run one by one.
        size = self.max_batch_size if runner.input.batched else 1
        self.batcher = DynamicBatcher(
            run,
            executor,
            max_batch_size=size,
            max_latency_s=self.max_latency_s,
            on_batch=self.metrics.batch_size.labels(self.name, self.version).observe,
        )
        self.metrics.queue_depth.labels(self.name, self.version).set_function(self._queue_depth)
        self.runner = runner
        self._ready_gauge.set(1)
        self._settled.set()

    def _queue_depth(self) -> float:
        return float(self.batcher.queue_depth) if self.batcher is not None else 0.0

    def set_failed(self, reason: str) -> None:
        self.failure = reason
        self._settled.set()

    async def wait_ready(self) -> ModelRunner:
        """The runner, waiting at most ``load_wait_s`` while the model loads."""
        if self.runner is None and self.failure is None:
            try:
                await asyncio.wait_for(self._settled.wait(), self.load_wait_s)
            except TimeoutError:
                raise ServerNotReady(
                    f"model {self.name!r} is still loading (waited {self.load_wait_s:g}s)"
                ) from None
        if self.failure is not None:
            raise ServerNotReady(f"model {self.name!r} failed to load: {self.failure}")
        assert self.runner is not None
        return self.runner

    @contextlib.contextmanager
    def incoming(self) -> Iterator[None]:
        """Wrap reading and decoding a request, so the batcher knows more work is on its way."""
        if self.batcher is None:
            yield
            return
        with self.batcher.incoming():
            yield

    async def metadata(self) -> ModelMetadata:
        runner = await self.wait_ready()
        return ModelMetadata(
            name=self.name,
            versions=[self.version],
            platform=f"pytorch_{runner.manifest.format}",
            inputs=[_tensor_metadata(runner.input)],
            outputs=[_tensor_metadata(runner.output)],
        )

    async def infer(self, decoded: DecodedRequest) -> Outputs:
        runner = await self.wait_ready()
        array = _validate(decoded, runner.input, runner.output)
        assert self.batcher is not None
        try:
            result = await self.batcher.submit(array)
        except Exception as exc:
            log.warning("model %s failed on a request: %s: %s", self.name, type(exc).__name__, exc)
            raise InferenceFailed(f"inference failed: {type(exc).__name__}: {exc}") from exc
        return [(runner.output.name, result)]


def _tensor_metadata(spec: TensorSpec) -> TensorMetadata:
    return TensorMetadata(name=spec.name, datatype=spec.datatype, shape=list(spec.shape))


def _validate(decoded: DecodedRequest, spec: TensorSpec, output: TensorSpec) -> npt.NDArray[Any]:
    """The request's one input, checked against the model's signature."""
    names = list(decoded.tensors)
    if names != [spec.name]:
        raise InvalidInput(f"the model takes exactly one input named {spec.name!r}, got {names}")
    item = decoded.request.inputs[0]
    if item.datatype != spec.datatype:
        raise InvalidInput(f"input {spec.name!r} must be {spec.datatype}, got {item.datatype}")
    shape = item.shape
    if len(shape) != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, shape, strict=True)
    ):
        raise InvalidInput(f"input {spec.name!r} has shape {shape} but the model takes {list(spec.shape)}")
    if spec.batched and shape[0] == 0:
        raise InvalidInput(f"input {spec.name!r} has an empty batch")
    for requested in decoded.request.outputs or ():
        if requested.name != output.name:
            raise InvalidInput(f"unknown output {requested.name!r}; the model has {output.name!r}")
    return decoded.tensors[spec.name]


class DataPlane:
    """What a transport can ask the server: health, metadata, and inference on served models."""

    def __init__(self, metrics: ServingMetrics, server_name: str = "lepton-serve") -> None:
        self.metrics = metrics
        self.server_name = server_name
        self.draining = False
        self._models: dict[str, ServedModel] = {}

    def add(self, model: ServedModel) -> None:
        self._models[model.name] = model

    def models(self) -> list[ServedModel]:
        return list(self._models.values())

    def server_metadata(self) -> ServerMetadata:
        return ServerMetadata(
            name=self.server_name, version=lepton.__version__, extensions=["binary_tensor_data"]
        )

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return not self.draining and all(model.ready for model in self._models.values())

    def model(self, name: str, version: str | None = None) -> ServedModel:
        model = self._models.get(name)
        if model is None:
            raise ModelNotFound(f"model {name!r} is not served here")
        if version is not None and version != model.version:
            raise ModelNotFound(f"model {name!r} has no version {version!r} (serving {model.version!r})")
        return model

    def model_ready(self, name: str, version: str | None = None) -> bool:
        return not self.draining and self.model(name, version).ready

    async def model_metadata(self, name: str, version: str | None = None) -> ModelMetadata:
        return await self.model(name, version).metadata()

    async def infer(self, name: str, version: str | None, decoded: DecodedRequest) -> Outputs:
        return await self.model(name, version).infer(decoded)
