//! Rows of each database as JSON objects (column name → value): integers and floats as numbers, booleans,
//! text, JSON as JSON, timestamps as RFC 3339 (a timestamp without a zone is taken as UTC), dates and times as
//! ISO 8601, bytes as base64, exact decimals as strings, NULL as null. A column of another type fails the step
//! with a hint to cast it.

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};
use sqlx::{
    mysql::MySqlRow,
    postgres::{PgRow, PgValueFormat},
    sqlite::SqliteRow,
    Column, Row, TypeInfo, ValueRef,
};

type Decoded = Result<Value, String>;

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn utc(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn naive(t: NaiveDateTime) -> Value {
    utc(t.and_utc())
}

fn bytes(b: Vec<u8>) -> Value {
    Value::String(STANDARD.encode(b))
}

fn unreadable(column: &str, ty: &str) -> String {
    format!(
        "column \"{column}\" has the type {ty}, which sql.query cannot read; cast it in the query (to text, for instance)"
    )
}

/// A PostgreSQL row.
pub fn pg(row: &PgRow) -> Result<Value, String> {
    let mut out = Map::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            let ty = raw.type_info().name().to_owned();
            let e = |e: sqlx::Error| format!("column \"{}\": {e}", col.name());
            match ty.as_str() {
                "BOOL" => Value::Bool(row.try_get(i).map_err(e)?),
                "INT2" => Value::from(row.try_get::<i16, _>(i).map_err(e)?),
                "INT4" => Value::from(row.try_get::<i32, _>(i).map_err(e)?),
                "INT8" => Value::from(row.try_get::<i64, _>(i).map_err(e)?),
                "OID" => Value::from(row.try_get::<sqlx::postgres::types::Oid, _>(i).map_err(e)?.0),
                "FLOAT4" => float(f64::from(row.try_get::<f32, _>(i).map_err(e)?)),
                "FLOAT8" => float(row.try_get::<f64, _>(i).map_err(e)?),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CITEXT" | "UNKNOWN" => {
                    Value::String(row.try_get(i).map_err(e)?)
                }
                "JSON" | "JSONB" => row.try_get::<Value, _>(i).map_err(e)?,
                "TIMESTAMPTZ" => utc(row.try_get(i).map_err(e)?),
                "TIMESTAMP" => naive(row.try_get(i).map_err(e)?),
                "DATE" => Value::String(row.try_get::<NaiveDate, _>(i).map_err(e)?.to_string()),
                "TIME" => Value::String(row.try_get::<NaiveTime, _>(i).map_err(e)?.to_string()),
                "BYTEA" => bytes(row.try_get(i).map_err(e)?),
                "NUMERIC" => match raw.format() {
                    PgValueFormat::Binary => pg_numeric(raw.as_bytes().map_err(|x| x.to_string())?)
                        .ok_or_else(|| format!("column \"{}\": an unreadable NUMERIC", col.name()))?,
                    PgValueFormat::Text => Value::String(raw.as_str().map_err(|x| x.to_string())?.to_owned()),
                },
                other => return Err(unreadable(col.name(), other)),
            }
        };
        out.insert(col.name().to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// PostgreSQL's binary NUMERIC (digit count, weight, sign, scale, base-10000 digits) as its exact decimal text.
fn pg_numeric(b: &[u8]) -> Option<Value> {
    let word = |i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let (ndigits, weight, sign, dscale) = (word(0)?, word(2)? as i16, word(4)?, word(6)?);
    if sign == 0xC000 {
        return Some(Value::String("NaN".into()));
    }
    let digits: Vec<u16> = (0..usize::from(ndigits))
        .map(|k| word(8 + 2 * k))
        .collect::<Option<_>>()?;
    let mut int = String::new();
    for k in 0..=i32::from(weight).max(0) {
        let d = if i32::from(weight) < 0 {
            0
        } else {
            digits.get(k as usize).copied().unwrap_or(0)
        };
        if int.is_empty() {
            int = d.to_string();
        } else {
            int.push_str(&format!("{d:04}"));
        }
    }
    let mut frac = String::new();
    let first_frac = i32::from(weight) + 1;
    for k in 0.. {
        if frac.len() >= usize::from(dscale) {
            break;
        }
        let index = first_frac + k;
        let d = if index < 0 {
            0
        } else {
            digits.get(index as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
    }
    frac.truncate(usize::from(dscale));
    let sign = if sign == 0x4000 { "-" } else { "" };
    Some(Value::String(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }))
}

/// A MySQL/MariaDB row.
pub fn mysql(row: &MySqlRow) -> Result<Value, String> {
    let mut out = Map::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            let ty = col.type_info().name().to_owned();
            let e = |e: sqlx::Error| format!("column \"{}\": {e}", col.name());
            let text = |i: usize| -> Decoded {
                Ok(Value::String(row.try_get_unchecked::<String, _>(i).map_err(e)?))
            };
            match ty.as_str() {
                "BOOLEAN" => Value::Bool(row.try_get::<i8, _>(i).map_err(e)? != 0),
                "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
                    Value::from(row.try_get::<i64, _>(i).map_err(e)?)
                }
                "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
                | "BIGINT UNSIGNED" => Value::from(row.try_get::<u64, _>(i).map_err(e)?),
                "YEAR" => Value::from(row.try_get::<u16, _>(i).map_err(e)?),
                "FLOAT" => float(f64::from(row.try_get::<f32, _>(i).map_err(e)?)),
                "DOUBLE" => float(row.try_get::<f64, _>(i).map_err(e)?),
                "DECIMAL" | "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM"
                | "SET" => text(i)?,
                "JSON" => row.try_get::<Value, _>(i).map_err(e)?,
                "TIMESTAMP" => utc(row.try_get(i).map_err(e)?),
                "DATETIME" => naive(row.try_get(i).map_err(e)?),
                "DATE" => Value::String(row.try_get::<NaiveDate, _>(i).map_err(e)?.to_string()),
                "TIME" => match row.try_get::<NaiveTime, _>(i) {
                    Ok(t) => Value::String(t.to_string()),
                    // TIME also holds durations (negative, past 24 h): cast those in the query.
                    Err(_) => return Err(unreadable(col.name(), "TIME (a duration)")),
                },
                "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT" => {
                    bytes(row.try_get_unchecked(i).map_err(e)?)
                }
                other => return Err(unreadable(col.name(), other)),
            }
        };
        out.insert(col.name().to_owned(), value);
    }
    Ok(Value::Object(out))
}

/// A SQLite row: by the value's storage class, with a column declared BOOLEAN as a boolean.
pub fn sqlite(row: &SqliteRow) -> Result<Value, String> {
    let mut out = Map::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            let storage = raw.type_info().name().to_owned();
            let declared = col.type_info().name().to_ascii_uppercase();
            let e = |e: sqlx::Error| format!("column \"{}\": {e}", col.name());
            match storage.as_str() {
                "INTEGER" if declared == "BOOLEAN" => {
                    Value::Bool(row.try_get_unchecked::<i64, _>(i).map_err(e)? != 0)
                }
                "INTEGER" => Value::from(row.try_get_unchecked::<i64, _>(i).map_err(e)?),
                "REAL" => float(row.try_get_unchecked::<f64, _>(i).map_err(e)?),
                "BLOB" => bytes(row.try_get_unchecked(i).map_err(e)?),
                _ => Value::String(row.try_get_unchecked::<String, _>(i).map_err(e)?),
            }
        };
        out.insert(col.name().to_owned(), value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b
    }

    #[test]
    fn postgres_numerics_read_exactly() {
        // 12345.678 = 1 2345 . 6780
        let v = pg_numeric(&numeric(3, 1, 0, 3, &[1, 2345, 6780])).unwrap();
        assert_eq!(v, "12345.678");
        // -0.05 = . 0500, weight -1
        let v = pg_numeric(&numeric(1, -1, 0x4000, 2, &[500])).unwrap();
        assert_eq!(v, "-0.05");
        // 0.0001234 (weight -1: first group 0001, then 2340)
        let v = pg_numeric(&numeric(2, -1, 0, 7, &[1, 2340])).unwrap();
        assert_eq!(v, "0.0001234");
        assert_eq!(pg_numeric(&numeric(0, 0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(pg_numeric(&numeric(1, 2, 0, 0, &[7])).unwrap(), "700000000");
    }
}
