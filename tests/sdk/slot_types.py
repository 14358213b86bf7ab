"""``tests/_types.py`` of the SDK's suites: the request context they pass to the store."""

from pydantic import BaseModel


class RequestContext(BaseModel):
    user_id: str
