// DuckDB for the Parquet sink's integration tests (tests/integration/parquet_sink_test.cpp) and
// bench/parquet_sink, where duckdb_read.mjs does not fit: any SQL (read_parquet with
// union_by_name over files of a table whose columns changed, Hive partitions), the json
// extension loaded so that JSON columns read as JSON, and timing one statement. hyparquet, the
// second reader, is hyparquet_read.mjs.
//
//   node sink_check.mjs duckdb "<SQL>"
//       Runs one query in an in-memory DuckDB (TimeZone UTC) and prints
//       {"columns":[{"name":..,"type":..}],"rows":[[text|null,..],..]}: every value as the text
//       DuckDB's own VARCHAR cast gives it, so that a test compares text with text.
//   node sink_check.mjs duckdb-time "<SETUP SQL>" "<TIMED SQL>"
//       For bench/parquet_sink: runs the setup, then the timed statement, and prints
//       {"cpu_s":..,"wall_s":..} of the timed statement alone (process.cpuUsage: user + system).
import { DuckDBInstance } from '@duckdb/node-api'

async function duckdb(sql) {
  const instance = await DuckDBInstance.create(':memory:')
  const conn = await instance.connect()
  await conn.run("SET TimeZone = 'UTC'")
  // The JSON logical type reads as DuckDB's JSON type only with the json extension loaded.
  try { await conn.run('LOAD json') } catch { /* then JSON columns read as VARCHAR */ }
  const reader = await conn.runAndReadAll(sql)
  const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnTypes()[i].toString() }))
  const rows = reader.getRows().map(row => row.map(v => (v === null || v === undefined ? null : String(v))))
  process.stdout.write(JSON.stringify({ columns, rows }) + '\n')
}

async function duckdbTime(setup, timed) {
  const instance = await DuckDBInstance.create(':memory:')
  const conn = await instance.connect()
  await conn.run(setup)
  const cpu0 = process.cpuUsage()
  const wall0 = process.hrtime.bigint()
  await conn.run(timed)
  const cpu = process.cpuUsage(cpu0)
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9
  process.stdout.write(JSON.stringify({ cpu_s: (cpu.user + cpu.system) / 1e6, wall_s: wall }) + '\n')
}

const [mode, ...args] = process.argv.slice(2)
try {
  if (mode === 'duckdb') await duckdb(args[0])
  else if (mode === 'duckdb-time') await duckdbTime(args[0], args[1])
  else throw new Error(`unknown mode '${mode}'; use duckdb or duckdb-time`)
} catch (e) {
  process.stderr.write(`sink_check: ${e.stack ?? e}\n`)
  process.exit(1)
}
