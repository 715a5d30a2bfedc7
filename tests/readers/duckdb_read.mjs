// Reads Parquet files back with DuckDB (@duckdb/node-api), as an independent reader for tests of
// the Parquet writer (tests/integration/parquet_writer_test.cpp) and of the Parquet sink.
//
//   node duckdb_read.mjs [options] FILE...        (a FILE may be a glob: DuckDB expands it)
//     --sql "<SQL>"   run this query instead of SELECT * over the files; the files are available
//                     as the view `t` (CREATE VIEW t AS SELECT * FROM read_parquet([FILE...]))
//     --metadata      also print the rows of parquet_metadata(FILE...)
//     --schema        also print the rows of parquet_schema(FILE...)
//     --kv            also print the rows of parquet_kv_metadata(FILE...)
//     --no-rows       print the columns but not the rows
//
// Prints one JSON object on stdout:
//   {"columns":[{"name":..,"type":..}],      // DESCRIBE of the query: DuckDB type names
//    "rows":[[v,..],..],                     // values in DuckDB's JSON-safe form, see below
//    "metadata":[{..}], "schema":[{..}], "kv":[{..}]}   // only when asked
// Values: null stays null; BOOLEAN, (U)TINY/SMALL/INTEGER are JSON booleans/numbers; BIGINT,
// UBIGINT, HUGEINT and DECIMAL are strings with the exact digits; FLOAT/DOUBLE are numbers, or the
// strings "NaN", "Infinity", "-Infinity"; DATE, TIME, TIMESTAMP[_MS|_NS], TIMESTAMPTZ (session
// TimeZone UTC), UUID, BLOB (\xNN escapes) and VARCHAR are DuckDB's text for the value; LIST is a
// JSON array and STRUCT a JSON object of the same conversions. The conversion is DuckDB's own
// (getRowsJson), so the output is deterministic for a given DuckDB version.
// Exit status 0 on success; 1 with the error on stderr otherwise.
import { DuckDBInstance } from '@duckdb/node-api'

function quote(s) {
  return "'" + String(s).replaceAll("'", "''") + "'"
}

async function main(argv) {
  const files = []
  let sql = null
  const want = { metadata: false, schema: false, kv: false, rows: true }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--sql') sql = argv[++i]
    else if (a === '--metadata') want.metadata = true
    else if (a === '--schema') want.schema = true
    else if (a === '--kv') want.kv = true
    else if (a === '--no-rows') want.rows = false
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`)
    else files.push(a)
  }
  if (files.length === 0) throw new Error('usage: node duckdb_read.mjs [--sql SQL] [--metadata] [--schema] [--kv] FILE...')
  const list = '[' + files.map(quote).join(', ') + ']'
  const instance = await DuckDBInstance.create(':memory:')
  const conn = await instance.connect()
  await conn.run("SET TimeZone = 'UTC'")
  await conn.run(`CREATE VIEW t AS SELECT * FROM read_parquet(${list})`)
  const out = {}
  const reader = await conn.runAndReadAll(sql ?? 'SELECT * FROM t')
  out.columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnTypes()[i].toString() }))
  if (want.rows) out.rows = reader.getRowsJson()
  const table = async (fn) => (await conn.runAndReadAll(`SELECT * FROM ${fn}(${list})`)).getRowObjectsJson()
  if (want.metadata) out.metadata = await table('parquet_metadata')
  if (want.schema) out.schema = await table('parquet_schema')
  if (want.kv) out.kv = await table('parquet_kv_metadata')
  process.stdout.write(JSON.stringify(out) + '\n')
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`duckdb_read: ${e.message}\n`)
  process.exit(1)
})
