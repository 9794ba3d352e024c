# Stand-in (see agentex/__init__.py): the SDK's Stainless BaseModel, reduced to the pydantic v2
# method names spanshipper_agentex calls, mapped onto pydantic v1.
from typing import Any, Optional

import pydantic


class BaseModel(pydantic.BaseModel):
    class Config:
        extra = "allow"

    def model_dump(self, **kwargs: Any) -> dict:
        kwargs.pop("mode", None)
        return self.dict(**kwargs)

    def model_dump_json(self, *, indent: Optional[int] = None, **kwargs: Any) -> str:
        return self.json(indent=indent, **kwargs)

    def model_copy(self, *, update: Optional[dict] = None, deep: bool = False) -> "BaseModel":
        return self.copy(update=update, deep=deep)
