// The mapping an index is created with when it does not exist yet, derived from the table
// schema, so that Elasticsearch does not guess (dynamic mapping would make a numeric string a
// text field, a date a long, ...). An index that exists is never touched.
//
// Row documents (document: row) hold values converted for Elasticsearch by bulk_request.cpp:
//   boolean                         boolean
//   int8/16/32/64                   byte/short/integer/long
//   float32/float64                 float/double (decimal_handling_mode: double too)
//   string                          text with a "keyword" sub-field (ignore_above 256)
//   Uuid, Enum, ZonedTime           keyword
//   Json                            text (the JSON as a string: rows may disagree on its shape,
//                                   which an object mapping would turn into rejections)
//   bytes, Bits                     binary (base64)
//   Date, connect Date              date, "strict_date": written as "2026-01-15" (Elasticsearch
//                                   has no days-since-epoch format)
//   Timestamp, MicroTimestamp,      date, "strict_date_optional_time": written as
//   NanoTimestamp, connect          "2026-01-15T10:00:00.123456" (no zone: PostgreSQL's
//   Timestamp                       timestamp without time zone); _source keeps every digit,
//                                   the index keeps milliseconds
//   ZonedTimestamp                  date, "strict_date_optional_time": ISO-8601 in UTC as the
//                                   source writes it; a value with an offset (a timezone
//                                   converter's) is written as the same instant in UTC
//   Time, MicroTime, NanoTime,      integer/long as Debezium sends them (units since midnight);
//   MicroDuration                   Elasticsearch has no time-of-day type
//   Decimal (precise),              keyword, written as the exact decimal string ("24.90"), the
//   VariableScaleDecimal, numeric   same as decimal_handling_mode: string (a string column whose
//   as a string                     source type is numeric); keyword keeps every digit, which a
//                                   double would not, and sorts and aggregates as terms
//   arrays                          the item's mapping (Elasticsearch arrays are implicit)
// Envelope documents (document: envelope) keep Debezium's representation: "before" and "after"
// are mapped with the types above except Date -> integer, MicroTimestamp/NanoTimestamp -> long,
// Timestamp -> date "epoch_millis", Decimal -> binary, VariableScaleDecimal -> {scale, value};
// "op" is a keyword and "ts_ms" a date in epoch_millis; "source" is left to dynamic mapping.
#pragma once

#include <string>

#include "core/event/schema.h"
#include "sinks/elasticsearch/es_config.h"

namespace cdcctl::es {

// The body of PUT /<index>: {"mappings":{"properties":{...}}}.
std::string IndexCreateBody(const TableSchema &table, EsDocument document);

// One field's mapping object, e.g. {"type":"date","format":"strict_date"}. `converted`: row
// documents (values converted as above); false: Debezium's own representation.
void AppendFieldMapping(std::string *out, const FieldSchema &field, bool converted);

}  // namespace cdcctl::es
