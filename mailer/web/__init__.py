"""The FastAPI app: public pages, editor admin, webhook, /metrics, /healthz, /readyz."""

from starlette.convertors import Convertor, register_url_convertor


class IssueNumber(Convertor):
    """`{number:issue_number}`: an issue number as a route takes it. Nine digits at most, so a number no
    database column holds is a 404 (no such page), never a 500 from the database. Registered here, before
    any route of this package is defined."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("issue_number", IssueNumber())
