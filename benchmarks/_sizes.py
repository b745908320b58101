"""Where a PostgreSQL database's space goes: per table (a partitioned table's partitions summed) its
heap, TOAST, indexes and total, and per index (over the partitions); printed by benchmarks/year.py."""

from __future__ import annotations

from sqlalchemy import text

# each table or partition, under the name of its parent (pg_partition_root; itself when not a partition)
TABLES = text(
    "SELECT COALESCE(pg_partition_root(c.oid), c.oid)::regclass::text AS name, count(*) AS parts,"
    " sum(c.reltuples) FILTER (WHERE c.reltuples > 0) AS rows,"
    " sum(pg_relation_size(c.oid)) AS heap,"
    " sum(pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid)) AS toast,"
    " sum(pg_indexes_size(c.oid)) AS indexes, sum(pg_total_relation_size(c.oid)) AS total"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
    " GROUP BY 1 ORDER BY total DESC"
)
# each index of a table, its partitions' indexes under the partitioned index's name
INDEXES = text(
    "SELECT COALESCE(pg_partition_root(t.oid), t.oid)::regclass::text AS tbl,"
    " COALESCE(pg_partition_root(i.oid), i.oid)::regclass::text AS name,"
    " sum(pg_relation_size(i.oid)) AS size"
    " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
    " JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE n.nspname = current_schema() AND t.relkind = 'r'"
    " GROUP BY 1, 2 ORDER BY size DESC"
)


def mib(n) -> str:
    return f"{(n or 0) / 2**20:,.1f}"


def breakdown(engine, title: str, top: int = 8, indexes: int = 12) -> None:
    """Print the `top` tables by size, then the `indexes` largest indexes, in MiB."""
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))  # row estimates (reltuples) of partitions made since
        tables = conn.execute(TABLES).all()
        found = conn.execute(INDEXES).all()
    print(f"\n{title} (MiB)")
    print(
        f"  {'table':24} {'parts':>5} {'rows':>12} {'heap':>9} {'toast':>7} {'indexes':>9} {'total':>9}"
    )
    for name, parts, rows, heap, toast, idx, total in tables[:top]:
        print(
            f"  {name:24} {parts:>5} {int(rows or 0):>12,} {mib(heap):>9} {mib(toast):>7}"
            f" {mib(idx):>9} {mib(total):>9}"
        )
    rest = tables[top:]
    if rest:
        print(
            f"  {f'{len(rest)} other tables':24} {'':>5} {'':>12} {'':>9} {'':>7} {'':>9}"
            f" {mib(sum(r[-1] for r in rest)):>9}"
        )
    print(f"  {'index':46} {'table':16} {'size':>9}")
    for tbl, name, size in found[:indexes]:
        print(f"  {name:46} {tbl:16} {mib(size):>9}")
