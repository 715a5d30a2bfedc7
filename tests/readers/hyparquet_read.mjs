// Reads Parquet files back with hyparquet (a JavaScript reader written from the Parquet
// specification, with snappy/gzip/zstd from hyparquet-compressors), as the second independent
// reader for tests of the Parquet writer and of the Parquet sink.
//
//   node hyparquet_read.mjs [--no-rows] [--max-rows N] [--bytes-as-hex] FILE...
//
// Prints one JSON object per file, one per line:
//   {"file":..,
//    "metadata":{"version","num_rows","created_by","key_value_metadata":{key:value},
//                "schema":[{name,type,type_length,repetition_type,num_children,converted_type,
//                           logical_type,scale,precision}],      // the flattened SchemaElements
//                "row_groups":[{"num_rows","total_byte_size","columns":[
//                   {"path","type","codec","encodings","num_values","total_uncompressed_size",
//                    "total_compressed_size","data_page_offset","dictionary_page_offset",
//                    "statistics":{"null_count","min_value","max_value"},"encoding_stats"}]}]},
//    "rows":[{column: value}]}       // rows left out with --no-rows or past --max-rows (default all)
// Values are made JSON-safe and exact: BIGINT (INT64) values as decimal strings; NaN, Infinity
// and -Infinity as those strings; BYTE_ARRAY values as UTF-8 text (hyparquet's default), or with
// --bytes-as-hex those without a STRING annotation as "0x" + hex (hyparquet then leaves ENUM
// undecoded too, so ENUM also appears as hex); FIXED_LEN_BYTE_ARRAY as "0x" + hex; DATE as
// "YYYY-MM-DD"; TIMESTAMP as ISO 8601 in UTC with as many fraction digits as its unit (3, 6 or
// 9) and a trailing "Z"; JSON columns as their text (not parsed); UUID as the 8-4-4-4-12 text;
// DECIMAL as hyparquet's JavaScript number (it converts decimals to doubles); TIME as the raw
// integer (hyparquet leaves it unconverted); lists as arrays and groups as objects.
// Statistics min/max go through the same conversion. Exit status 0 on success; 1 with the error
// on stderr otherwise.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

function pad(n, w) {
  return String(n).padStart(w, '0')
}

// days since 1970-01-01 -> YYYY-MM-DD (proleptic Gregorian, any sign)
function civilFromDays(days) {
  const d = new Date(Number(days) * 86400000)
  const y = d.getUTCFullYear()
  const ys = y < 0 ? '-' + pad(-y, 6) : y > 9999 ? '+' + pad(y, 6) : pad(y, 4)
  return `${ys}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`
}

// A count of `perSecond` units since the epoch -> ISO 8601 with `digits` fraction digits.
function isoFromUnits(v, perSecond, digits) {
  const big = BigInt(v)
  const per = BigInt(perSecond)
  let secs = big / per
  let frac = big % per
  if (frac < 0n) {
    frac += per
    secs -= 1n
  }
  const days = secs >= 0n ? secs / 86400n : -((-secs + 86399n) / 86400n)
  const rem = Number(secs - days * 86400n)
  const date = civilFromDays(days)
  const hh = pad(Math.floor(rem / 3600), 2)
  const mm = pad(Math.floor((rem % 3600) / 60), 2)
  const ss = pad(rem % 60, 2)
  return `${date}T${hh}:${mm}:${ss}.${pad(frac, digits)}Z`
}

const TAG = Symbol('converted')
const tagged = (s) => ({ [TAG]: s })

const parsers = {
  timestampFromMilliseconds: (v) => tagged(isoFromUnits(v, 1000, 3)),
  timestampFromMicroseconds: (v) => tagged(isoFromUnits(v, 1000000, 6)),
  timestampFromNanoseconds: (v) => tagged(isoFromUnits(v, 1000000000, 9)),
  dateFromDays: (v) => tagged(civilFromDays(v)),
  jsonFromBytes: (b) => b && new TextDecoder().decode(b),
}

function safe(v) {
  if (v === undefined || v === null) return null
  if (typeof v === 'object' && TAG in v) return v[TAG]
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN'
    if (v === Infinity) return 'Infinity'
    if (v === -Infinity) return '-Infinity'
    return v
  }
  if (v instanceof Date) return v.toISOString()
  if (v instanceof Uint8Array) return '0x' + Buffer.from(v).toString('hex')
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v, safe)
  if (typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = safe(v[k])
    return o
  }
  return v
}

function columnMeta(c) {
  const m = c.meta_data
  return {
    path: m.path_in_schema,
    type: m.type,
    codec: m.codec,
    encodings: m.encodings,
    num_values: safe(m.num_values),
    total_uncompressed_size: safe(m.total_uncompressed_size),
    total_compressed_size: safe(m.total_compressed_size),
    data_page_offset: safe(m.data_page_offset),
    dictionary_page_offset: safe(m.dictionary_page_offset),
    statistics: m.statistics ? {
      null_count: safe(m.statistics.null_count),
      min_value: safe(m.statistics.min_value),
      max_value: safe(m.statistics.max_value),
    } : null,
    encoding_stats: safe(m.encoding_stats),
  }
}

async function readOne(path, opts) {
  const file = await asyncBufferFromFile(path)
  const md = await parquetMetadataAsync(file, { parsers })
  const kv = {}
  for (const { key, value } of md.key_value_metadata ?? []) kv[key] = value ?? null
  const out = {
    file: path,
    metadata: {
      version: md.version,
      num_rows: safe(md.num_rows),
      created_by: md.created_by ?? null,
      key_value_metadata: kv,
      schema: md.schema.map((e) => safe({
        name: e.name, type: e.type, type_length: e.type_length, repetition_type: e.repetition_type,
        num_children: e.num_children, converted_type: e.converted_type, logical_type: e.logical_type,
        scale: e.scale, precision: e.precision,
      })),
      row_groups: md.row_groups.map((rg) => ({
        num_rows: safe(rg.num_rows),
        total_byte_size: safe(rg.total_byte_size),
        columns: rg.columns.map(columnMeta),
      })),
    },
  }
  if (opts.rows) {
    const rows = await parquetReadObjects({ file, metadata: md, compressors, parsers, utf8: opts.utf8, rowEnd: opts.maxRows })
    out.rows = rows.map(safe)
  }
  return out
}

async function main(argv) {
  const opts = { rows: true, maxRows: undefined, utf8: true }
  const files = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--no-rows') opts.rows = false
    else if (a === '--max-rows') opts.maxRows = Number(argv[++i])
    else if (a === '--bytes-as-hex') opts.utf8 = false
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`)
    else files.push(a)
  }
  if (files.length === 0) throw new Error('usage: node hyparquet_read.mjs [--no-rows] [--max-rows N] [--bytes-as-hex] FILE...')
  for (const f of files) process.stdout.write(JSON.stringify(await readOne(f, opts)) + '\n')
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`hyparquet_read: ${e.message}\n`)
  process.exit(1)
})
