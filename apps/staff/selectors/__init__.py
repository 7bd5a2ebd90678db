"""Read queries of the staff workspace, by page: `home` (/staff/, per role) and `merchant`
(the merchant hub /staff/merchants/<id>/). Each page costs a fixed number of queries whatever
the number of rows: lists are joined or prefetched and capped, counts are grouped."""
