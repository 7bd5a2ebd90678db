"""One page of a list for a staff screen, with links to its neighbours.

`paginate` returns Django's Page with `previous_url` / `next_url` set: query strings that keep
every other parameter of the request (filters, the other lists' pages), so several lists on one
screen page independently. `templates/_components/pagination.html` renders them."""

from django.core.paginator import Page, Paginator


def paginate(request, queryset, *, per_page: int, param: str = "page") -> Page:
    page = Paginator(queryset, per_page).get_page(request.GET.get(param))

    def link(number: int) -> str:
        query = request.GET.copy()
        query[param] = number
        return f"?{query.urlencode()}"

    page.previous_url = link(page.previous_page_number()) if page.has_previous() else ""
    page.next_url = link(page.next_page_number()) if page.has_next() else ""
    return page
