# Stand-in (see agentex/__init__.py): mirrors
# src/agentex/lib/core/tracing/processors/tracing_processor_interface.py (the version with the
# batched on_spans_start/on_spans_end that AsyncSpanQueue calls).
import asyncio
from abc import ABC, abstractmethod

from agentex.types.span import Span
from agentex.lib.types.tracing import TracingProcessorConfig


class SyncTracingProcessor(ABC):
    @abstractmethod
    def __init__(self, config: TracingProcessorConfig):
        pass

    @abstractmethod
    def on_span_start(self, span: Span) -> None:
        pass

    @abstractmethod
    def on_span_end(self, span: Span) -> None:
        pass

    @abstractmethod
    def shutdown(self) -> None:
        pass


class AsyncTracingProcessor(ABC):
    @abstractmethod
    def __init__(self, config: TracingProcessorConfig):
        pass

    @abstractmethod
    async def on_span_start(self, span: Span) -> None:
        pass

    @abstractmethod
    async def on_span_end(self, span: Span) -> None:
        pass

    async def on_spans_start(self, spans: list[Span]) -> None:
        await asyncio.gather(*(self.on_span_start(s) for s in spans), return_exceptions=False)

    async def on_spans_end(self, spans: list[Span]) -> None:
        await asyncio.gather(*(self.on_span_end(s) for s in spans), return_exceptions=False)

    @abstractmethod
    async def shutdown(self) -> None:
        pass
