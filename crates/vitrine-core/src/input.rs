//! Reading untrusted JSON objects field by field, so that every rejection names the field at
//! fault and says what was expected.

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

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
