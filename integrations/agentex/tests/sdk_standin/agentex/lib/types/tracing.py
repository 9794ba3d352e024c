# Stand-in (see agentex/__init__.py): mirrors src/agentex/lib/types/tracing.py.
from typing import Literal, Union

from agentex.lib.utils.model_utils import BaseModel


class AgentexTracingProcessorConfig(BaseModel):
    type: Literal["agentex"] = "agentex"


class SGPTracingProcessorConfig(BaseModel):
    type: Literal["sgp"] = "sgp"
    sgp_api_key: str
    sgp_account_id: str


# The SDK's is Annotated[..., Field(discriminator="type")] (pydantic v2).
TracingProcessorConfig = Union[AgentexTracingProcessorConfig, SGPTracingProcessorConfig]
