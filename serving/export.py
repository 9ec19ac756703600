"""`rollcure decisions export`: the decision log as one Parquet file, written a chunk at a time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from serving.decision_log import EXPORT_CHUNK_ROWS, EXPORT_COLUMNS, DecisionLog

#: Arrow schema of the export: reason codes become a list of strings, timestamps stay ISO strings
#: (UTC, as written) so that no time-zone conversion can silently shift an audit record.
EXPORT_SCHEMA = pa.schema(
    [
        ("decision_id", pa.string()),
        ("case_hash", pa.string()),
        ("as_of", pa.string()),
        ("decided_at", pa.string()),
        ("endpoint", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("inputs_digest", pa.string()),
        ("p_roll_forward", pa.float64()),
        ("p_cure", pa.float64()),
        ("action", pa.string()),
        ("expected_value", pa.float64()),
        ("reason_codes", pa.list_(pa.string())),
        ("arm", pa.string()),
        ("challenger", pa.bool_()),
        ("propensity", pa.float64()),
    ]
)


def _to_arrow(rows: list[dict]) -> pa.Table:
    import duckdb

    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    con = duckdb.connect()
    try:
        # JSON arrays -> list<string> in one vectorised pass.
        codes = con.sql("select cast(reason_codes as json)::varchar[] as rc from frame").to_arrow_table()
    finally:
        con.close()
    table = pa.Table.from_pandas(frame.drop(columns=["reason_codes"]), preserve_index=False)
    table = table.append_column("reason_codes", codes.column("rc").cast(pa.list_(pa.string())))
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
