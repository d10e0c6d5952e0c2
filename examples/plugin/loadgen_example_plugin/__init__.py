"""`workload: table_stats`: each worker fills a table of its own with `rows` rows, then asks it for COUNT and SUM
`queries` times, checking every answer against the closed form. Registered through the entry point in
pyproject.toml; a scenario names it by `workload: table_stats` with its keys under `options:`."""

from pydantic import Field

from loadgen import api


class StatsOptions(api.Options):
    rows: int = Field(default=10_000, ge=1, le=100_000_000, description="Rows in each worker's table.")
    queries: int = Field(default=50, ge=1, le=1_000_000, description="Queries each worker runs.")


class TableStats(api.Workload):
    """Rows 1..N in a worker's own table; each query must answer (N, N(N+1)/2)."""

    Options = StatsOptions
    api_version = "1.0"
    operations = ("stats",)

    def setup(self):
        self.table = self.ctx.table_names({"stats": "plugin_stats_{worker}"})["stats"]
        connection = self.ctx.connection
        connection.execute_command(f"DROP TABLE IF EXISTS {self.table}")
        connection.execute_command(f"CREATE TABLE {self.table} (v BIGINT)")
        connection.execute_command(f"INSERT INTO {self.table} SELECT g FROM generate_series(1, {self.options.rows}) g")
        self.wrong = 0

    def run(self, rec: api.Recorder):
        n = self.options.rows
        for _ in range(self.options.queries):
            if self.ctx.stop.is_set():
                return
            with rec.op("stats") as op:
                count, total = self.ctx.connection.execute_list_query(f"SELECT COUNT(*), SUM(v) FROM {self.table}")[0]
                op.rows = 1
            self.wrong += (count, total) != (n, n * (n + 1) // 2)

    def verify(self):
        ok = self.wrong == 0
        return {"verified": "ok" if ok else "failed", "detail": f"{self.wrong} wrong answers"}

    def close(self):
        self.ctx.connection.execute_command(f"DROP TABLE IF EXISTS {self.table}")
