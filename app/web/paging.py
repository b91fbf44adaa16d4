"""One page of an office list: the page's rows and the count of all of them in one statement.

The count rides along as a window aggregate, so a list costs one statement whatever its size; a
page past the last answers 404. The page number comes from `?page=` through `parse_id`, so "0",
"-1", "٣" or a thousand digits are page 1.
"""

from dataclasses import dataclass

from flask import abort, request
from sqlalchemy import func

from app.extensions import db
from app.web.input_guard import parse_id


@dataclass
class Page:
    rows: list  # each a row of the statement's columns (row[0] the model)
    total: int
    page: int
    pages: int

    def context(self) -> dict:
        """What a list template reads (`office_pager` among it): rows, total, page, pages."""
        return {"rows": self.rows, "total": self.total, "page": self.page, "pages": self.pages}


def requested_page() -> int:
    return parse_id(request.args.get("page", "1")) or 1


def page_of(statement, per_page: int) -> Page:
    """`statement` (a select with its order) limited to the requested page, with the total."""
    page = requested_page()
    rows = db.session.execute(
        statement.add_columns(func.count().over().label("total"))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    if page > 1 and not rows:
        abort(404)
    total = rows[0].total if rows else 0
    return Page(rows=rows, total=total, page=page, pages=max(1, -(-total // per_page)))
