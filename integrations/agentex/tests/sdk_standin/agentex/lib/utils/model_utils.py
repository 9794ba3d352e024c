# Stand-in (see agentex/__init__.py): src/agentex/lib/utils/model_utils.py's BaseModel, on pydantic v1.
import pydantic


class BaseModel(pydantic.BaseModel):
    pass
