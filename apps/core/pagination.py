"""One page of a list for a staff screen, with links to its neighbours.

`paginate` returns Django's Page with `previous_url` / `next_url` set: query strings that keep
every other parameter of the request (filters, the other lists' pages), so several lists on one
screen page independently. `templates/_components/pagination.html` renders them.

`count_limit`: count at most that many rows (`paginator.count_capped` is then True and the
page says "N+"), so a list of 100k rows does not count all of them on every view; pages past
the limit are not offered (narrow the list with its filters instead)."""

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    def __init__(self, *args, count_limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_limit = count_limit
        self.count_capped = False

    @cached_property
    def count(self) -> int:
        # SELECT COUNT(*) FROM (SELECT ... LIMIT n + 1): bounded whatever the table's size.
        found = self.object_list[: self.count_limit + 1].count()
        self.count_capped = found > self.count_limit
        return min(found, self.count_limit)


def paginate(
    request, queryset, *, per_page: int, param: str = "page", count_limit: int | None = None
) -> Page:
    if count_limit is None:
        paginator = Paginator(queryset, per_page)
    else:
        paginator = CappedPaginator(queryset, per_page, count_limit=count_limit)
    page = paginator.get_page(request.GET.get(param))

    def link(number: int) -> str:
        query = request.GET.copy()
        query[param] = number
        return f"?{query.urlencode()}"

    page.previous_url = link(page.previous_page_number()) if page.has_previous() else ""
    page.next_url = link(page.next_page_number()) if page.has_next() else ""
    return page
