"""`rollcure decisions export`: the decision log as one Parquet file, written a chunk at a time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.record import arrow_schema, json_columns
from serving.decision_log import EXPORT_CHUNK_ROWS, EXPORT_COLUMNS, DecisionLog

#: Arrow schema of the export: the record's log view, with lists as lists and dates and timestamps
#: as the ISO strings logged, so that no time-zone conversion can silently shift an audit record.
EXPORT_SCHEMA = arrow_schema("log")


def _to_arrow(rows: list[dict]) -> pa.Table:
    import duckdb

    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    lists = json_columns()
    con = duckdb.connect()
    try:
        # JSON arrays -> list<string> in one vectorised pass.
        select = ", ".join(f'cast("{c}" as json)::varchar[] as "{c}"' for c in lists)
        decoded = con.sql(f"select {select} from frame").to_arrow_table()
    finally:
        con.close()
    table = pa.Table.from_pandas(frame.drop(columns=list(lists)), preserve_index=False)
    for c in lists:
        table = table.append_column(c, decoded.column(c).cast(EXPORT_SCHEMA.field(c).type))
    return table.select(list(EXPORT_COLUMNS)).cast(EXPORT_SCHEMA)


def export_decisions(log: DecisionLog, out: Path, chunk_rows: int = EXPORT_CHUNK_ROWS) -> int:
    """Write every logged decision to ``out`` (Parquet) and return the row count."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with pq.ParquetWriter(out, EXPORT_SCHEMA) as writer:
        for rows in log.iter_chunks(chunk_rows):
            writer.write_table(_to_arrow(rows))
            n += len(rows)
    return n
