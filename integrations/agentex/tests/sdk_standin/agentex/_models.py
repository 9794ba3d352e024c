# Stand-in (see agentex/__init__.py): the SDK's Stainless BaseModel, reduced to what
# spanshipper_agentex calls. Under pydantic v2 (as the SDK requires) it is pydantic's own;
# under v1 it adds the v2 method names, mapped onto v1, as Stainless models do.
from typing import Any, Optional

import pydantic

PYDANTIC_V1 = pydantic.VERSION.startswith("1.")


class BaseModel(pydantic.BaseModel):
    if PYDANTIC_V1:

        class Config:
            extra = "allow"

        def model_dump(self, **kwargs: Any) -> dict:
            kwargs.pop("mode", None)
            return self.dict(**kwargs)

        def model_dump_json(self, *, indent: Optional[int] = None, **kwargs: Any) -> str:
            return self.json(indent=indent, **kwargs)

        def model_copy(self, *, update: Optional[dict] = None, deep: bool = False) -> "BaseModel":
            return self.copy(update=update, deep=deep)

    else:
        model_config = pydantic.ConfigDict(extra="allow")
