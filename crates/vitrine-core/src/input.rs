//! Reading untrusted JSON objects field by field, so that every rejection names the field at
//! fault and says what was expected.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A rejected input, naming the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Parses a client's JSON like `serde_json::from_slice`, but refuses an object that names a
/// key twice, at any depth: parsers disagree on which of the two counts (the first, the last),
/// so a proxy and this server could each read another request.
pub fn parse_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A [`Value`] whose objects have unique keys.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let value = entries.next_value_seed(Strict)?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("the key {key:?} is given twice")));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// A JSON object received from a client.
#[derive(Debug, Clone)]
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    pub fn from_value(value: Value) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            _ => Err(FieldError::new("body", "must be a JSON object")),
        }
    }

    pub fn from_map(map: Map<String, Value>) -> Self {
        Self { map }
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }

    pub fn as_value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// Sets a field (a form's value shaped as the API takes it).
    pub fn insert(&mut self, name: &str, value: Value) {
        self.map.insert(name.to_string(), value);
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The raw value of a field, for shapes the typed readers do not cover.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Refuses any field not in `known`, so that a typo is not silently ignored.
    pub fn allow_only(&self, known: &[&str]) -> Result<(), FieldError> {
        match self.map.keys().find(|key| !known.contains(&key.as_str())) {
            Some(unknown) => Err(FieldError::new(
                unknown.clone(),
                format!("is not a known field; expected one of: {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub fn required_str(&self, name: &str) -> Result<&str, FieldError> {
        self.optional_str(name)?.ok_or_else(|| FieldError::new(name, "is required"))
    }

    /// Absent or null is `None`; anything but a string is refused.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(FieldError::new(name, "must be a string")),
        }
    }

    /// For PATCH: absent is `None` (leave unchanged), null is `Some(None)` (clear).
    pub fn nullable_str(&self, name: &str) -> Result<Option<Option<&str>>, FieldError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(_) => Err(FieldError::new(name, "must be a string or null")),
        }
    }

    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(FieldError::new(name, "must be true or false")),
        }
    }

    /// A whole number within `min..=max`; strings, fractions and out-of-range values are refused.
    pub fn optional_int_in(
        &self,
        name: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, FieldError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(value) => int_in(name, value, min, max).map(Some),
        }
    }

    /// Like [`Fields::optional_int_in`], but an explicit null is `Some(None)`.
    pub fn nullable_int_in(
        &self,
        name: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<Option<i64>>, FieldError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(value) => int_in(name, value, min, max).map(|n| Some(Some(n))),
        }
    }
}

fn int_in(name: &str, value: &Value, min: i64, max: i64) -> Result<i64, FieldError> {
    let range = || FieldError::new(name, format!("must be a whole number from {min} to {max}"));
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(range()),
        },
        _ => Err(range()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_json_refuses_a_key_given_twice_at_any_depth_and_reads_the_rest_as_serde_json_does() {
        for twice in [
            r#"{"name":"a","name":"b"}"#,
            r#"{"a":[{"x":1,"x":1}]}"#,
            r#"{"a":{"b":{"c":1,"c":2}}}"#,
        ] {
            let error = super::parse_json(twice.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("given twice"), "{twice}: {error}");
        }
        for text in
            [r#"{"name":"a","n":[1,-2,3.5,true,null,{"k":"v"}],"e":{}}"#, "[]", "7", "\"s\""]
        {
            let expected: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(super::parse_json(text.as_bytes()).unwrap(), expected, "{text}");
        }
        assert!(super::parse_json(b"{} trailing").is_err());
        assert!(super::parse_json(&[b'['; 10_000]).is_err(), "serde_json's depth limit holds");
    }

    fn fields(value: Value) -> Fields {
        Fields::from_value(value).unwrap()
    }

    #[test]
    fn integer_fields_refuse_text_fractions_and_out_of_range_values() {
        for bad in
            [json!("5"), json!(5.5), json!(0), json!(-3), json!(1e30), json!(u64::MAX), json!(true)]
        {
            let err = fields(json!({ "n": bad })).optional_int_in("n", 1, 10).unwrap_err();
            assert_eq!(err.field, "n");
        }
        assert_eq!(fields(json!({ "n": 10 })).optional_int_in("n", 1, 10), Ok(Some(10)));
    }

    #[test]
    fn unknown_fields_are_named_in_the_error() {
        let err = fields(json!({ "emial": "x" })).allow_only(&["email"]).unwrap_err();
        assert_eq!(err.field, "emial");
    }

    #[test]
    fn non_objects_are_refused_as_body() {
        assert_eq!(Fields::from_value(json!([1])).unwrap_err().field, "body");
    }
}
