//! Column chunks held in fewer bytes than they were read in, for the column cache.
//!
//! The cache is bounded in bytes, and a chunk held in fewer of them leaves room for more
//! chunks. Many columns are far wider as read than their values need: counts in 64-bit
//! integers (packed four bits to a count when they run from 0 to 15), dates that fit in 16
//! bits, dictionary keys over a handful of values in 32 bits (packed one to four bits to a
//! key), amounts of money in 64-bit floats that are decimals of two places. A chunk is held in the
//! narrowest form that gives back exactly the arrays the reader produced, bit for bit, and is
//! widened a batch at a time as a scan reads it: widening a batch is done in the processor's
//! cache, which costs less than reading the wide form from memory would.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, PrimitiveArray, UInt8Array, make_array,
};
use datafusion::arrow::compute::{cast, max, min};
use datafusion::arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, ArrowPrimitiveType, DataType, Float64Type, Int16Type,
    Int32Type, Int64Type, UInt8Type,
};
use datafusion::arrow::error::ArrowError;

/// A column chunk (the arrays of a row group's batches) as the cache holds it.
#[derive(Debug)]
pub(crate) struct Compact {
    /// One array per batch, in the form's type.
    arrays: Vec<ArrayRef>,
    /// A packed dictionary's values, one per batch (shared, as the reader shares them).
    values: Vec<ArrayRef>,
    /// The rows of each batch.
    lengths: Vec<usize>,
    form: Form,
    /// Bytes held, and bytes as read.
    bytes: usize,
    read_bytes: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Form {
    /// As the reader produced it.
    AsRead,
    /// Integers, or a dictionary's keys, in the narrower integer type of `held`: widened by
    /// a cast, then given back the type they were read as (a date, a timestamp).
    Narrow { as_read: DataType, held: DataType },
    /// 64-bit floats that are all decimals of `places` places, held as the 32-bit integers
    /// they are in units of 10^-places; each float is that integer divided by 10^places.
    Decimal { places: i32 },
    /// Integers from 0 to 2^bits − 1 without nulls, or the keys of a dictionary of at most
    /// 2^bits values without nulls, `8 / bits` to a byte.
    Packed { as_read: DataType, bits: u32 },
}

/// The most decimal places a float column is tried at.
const MOST_PLACES: i32 = 4;

impl Compact {
    /// `arrays` in the narrowest form that gives them back exactly.
    pub(crate) fn new(arrays: Vec<ArrayRef>) -> Self {
        let form = arrays.first().map_or(Form::AsRead, |first| match first.data_type() {
            DataType::Dictionary(key, _) => narrower_keys(&arrays, key),
            DataType::Float64 => decimal_places(&arrays),
            data_type => narrower_integers(&arrays, data_type),
        });
        let lengths = arrays.iter().map(|a| a.len()).collect();
        let read_bytes = arrays.iter().map(|a| a.get_array_memory_size()).sum();
        let values = match &form {
            Form::Packed { as_read: DataType::Dictionary(_, _), .. } => {
                arrays.iter().map(|a| Arc::clone(a.as_any_dictionary().values())).collect()
            }
            _ => Vec::new(),
        };
        let held = match &form {
            Form::AsRead => Ok(arrays.clone()),
            Form::Narrow { .. } | Form::Decimal { .. } | Form::Packed { .. } => {
                narrow(&arrays, &form)
            }
        };
        let (arrays, values, form) = match held {
            Ok(held) => (held, values, form),
            Err(_) => (arrays, Vec::new(), Form::AsRead),
        };
        let bytes = arrays.iter().chain(&values).map(|a| a.get_array_memory_size()).sum();
        Self { arrays, values, lengths, form, bytes, read_bytes }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bytes the chunk took as read: what reading it again from the file would make.
    pub(crate) fn read_bytes(&self) -> usize {
        self.read_bytes
    }

    /// The rows of each batch.
    pub(crate) fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.lengths.iter().copied()
    }

    /// Batch `index` as it was read.
    pub(crate) fn batch(&self, index: usize) -> Result<ArrayRef, ArrowError> {
        let array = self
            .arrays
            .get(index)
            .ok_or_else(|| ArrowError::InvalidArgumentError(format!("no batch {index}")))?;
        match &self.form {
            Form::AsRead => Ok(Arc::clone(array)),
            Form::Narrow { as_read, .. } => widen(array, as_read),
            Form::Decimal { places } => {
                let scale = 10f64.powi(*places);
                let integers = array.as_primitive::<Int32Type>();
                Ok(Arc::new(integers.unary::<_, Float64Type>(|i| f64::from(i) / scale)))
            }
            Form::Packed { as_read, bits } => {
                let packed = array.as_primitive::<UInt8Type>();
                let rows = self.lengths[index];
                match as_read {
                    DataType::Dictionary(key, _) => {
                        let values = Arc::clone(&self.values[index]);
                        match key.as_ref() {
                            DataType::Int16 => {
                                packed_keys::<Int16Type>(packed, rows, *bits, values)
                            }
                            DataType::Int32 => {
                                packed_keys::<Int32Type>(packed, rows, *bits, values)
                            }
                            _ => packed_keys::<Int64Type>(packed, rows, *bits, values),
                        }
                    }
                    _ => {
                        let integers: ArrayRef = match integer_storage(as_read) {
                            Some(DataType::Int16) => {
                                Arc::new(unpack::<Int16Type>(packed, rows, *bits))
                            }
                            Some(DataType::Int32) => {
                                Arc::new(unpack::<Int32Type>(packed, rows, *bits))
                            }
                            _ => Arc::new(unpack::<Int64Type>(packed, rows, *bits)),
                        };
                        retyped(&integers, as_read)
                    }
                }
            }
        }
    }
}

/// The bits that hold every value from 0 to `high`, when four or fewer do.
fn packed_bits(high: i64) -> Option<u32> {
    match high {
        0..=1 => Some(1),
        2..=3 => Some(2),
        4..=15 => Some(4),
        _ => None,
    }
}

/// `values` (each below 2^bits), `8 / bits` to a byte, the first in the lowest bits.
fn pack(values: impl Iterator<Item = u8>, rows: usize, bits: u32) -> UInt8Array {
    let per_byte = (8 / bits) as usize;
    let mut bytes = vec![0u8; rows.div_ceil(per_byte)];
    for (row, value) in values.enumerate() {
        bytes[row / per_byte] |= value << ((row % per_byte) as u32 * bits);
    }
    UInt8Array::from(bytes)
}

/// The `rows` values `pack` packed, as integers of `T`.
fn unpack<T>(packed: &PrimitiveArray<UInt8Type>, rows: usize, bits: u32) -> PrimitiveArray<T>
where
    T: ArrowPrimitiveType,
    T::Native: From<u8>,
{
    let bytes = packed.values();
    let mut out = vec![T::Native::from(0u8); bytes.len() * (8 / bits) as usize];
    match bits {
        4 => {
            for (pair, &b) in out.chunks_exact_mut(2).zip(bytes.iter()) {
                pair[0] = T::Native::from(b & 0xF);
                pair[1] = T::Native::from(b >> 4);
            }
        }
        2 => {
            for (four, &b) in out.chunks_exact_mut(4).zip(bytes.iter()) {
                four[0] = T::Native::from(b & 3);
                four[1] = T::Native::from((b >> 2) & 3);
                four[2] = T::Native::from((b >> 4) & 3);
                four[3] = T::Native::from(b >> 6);
            }
        }
        _ => {
            for (eight, &b) in out.chunks_exact_mut(8).zip(bytes.iter()) {
                for (bit, slot) in eight.iter_mut().enumerate() {
                    *slot = T::Native::from((b >> bit) & 1);
                }
            }
        }
    }
    out.truncate(rows);
    PrimitiveArray::new(out.into(), None)
}

fn packed_keys<K>(
    packed: &PrimitiveArray<UInt8Type>,
    rows: usize,
    bits: u32,
    values: ArrayRef,
) -> Result<ArrayRef, ArrowError>
where
    K: ArrowDictionaryKeyType,
    K::Native: From<u8> + Ord,
{
    let keys = unpack::<K>(packed, rows, bits);
    // Each key was unpacked from `bits` bits: none is null or negative. Each is within the
    // dictionary when it has 2^bits values or more, else when the largest is.
    let largest = || keys.values().iter().fold(K::Native::from(0), |a, &b| a.max(b));
    let within =
        values.len() >= 1 << bits || keys.is_empty() || largest().as_usize() < values.len();
    if !within {
        return Err(ArrowError::InvalidArgumentError("a packed key is out of range".into()));
    }
    // SAFETY: checked just above: every key is valid and within `values`. (`try_new` checks
    // the same one key at a time, which took a fifth of a cached text group-by.)
    Ok(Arc::new(unsafe { DictionaryArray::<K>::new_unchecked(keys, values) }))
}

/// The integer type values of `data_type` are stored as, when it is one narrowing can help.
fn integer_storage(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Int16 => Some(DataType::Int16),
        DataType::Int32 | DataType::Date32 | DataType::Time32(_) => Some(DataType::Int32),
        DataType::Int64
        | DataType::Date64
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Duration(_) => Some(DataType::Int64),
        _ => None,
    }
}

/// `array` with its buffers read as `data_type` (of the same width).
fn retyped(array: &ArrayRef, data_type: &DataType) -> Result<ArrayRef, ArrowError> {
    if array.data_type() == data_type {
        return Ok(Arc::clone(array));
    }
    Ok(make_array(array.to_data().into_builder().data_type(data_type.clone()).build()?))
}

fn bytes_of(data_type: &DataType) -> usize {
    data_type.primitive_width().unwrap_or(usize::MAX)
}

/// The narrowest signed integer type among those narrower than `storage` that holds every
/// value from `low` to `high`.
fn narrowest(low: i64, high: i64, storage: &DataType) -> Option<DataType> {
    let fits = |min: i64, max: i64| low >= min && high <= max;
    let candidate = if fits(i8::MIN.into(), i8::MAX.into()) {
        DataType::Int8
    } else if fits(i16::MIN.into(), i16::MAX.into()) {
        DataType::Int16
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        DataType::Int32
    } else {
        return None;
    };
    (bytes_of(&candidate) < bytes_of(storage)).then_some(candidate)
}

fn bounds<T>(array: &ArrayRef) -> Option<(i64, i64)>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    let values: &PrimitiveArray<T> = array.as_primitive();
    Some((min(values)?.into(), max(values)?.into()))
}

fn narrower_integers(arrays: &[ArrayRef], data_type: &DataType) -> Form {
    let Some(storage) = integer_storage(data_type) else { return Form::AsRead };
    let (mut low, mut high) = (0i64, 0i64);
    for array in arrays {
        let Ok(stored) = retyped(array, &storage) else { return Form::AsRead };
        let range = match storage {
            DataType::Int16 => bounds::<Int16Type>(&stored),
            DataType::Int32 => bounds::<Int32Type>(&stored),
            _ => bounds::<Int64Type>(&stored),
        };
        // An array of nulls only has no bounds, and any type holds it.
        if let Some((l, h)) = range {
            (low, high) = (low.min(l), high.max(h));
        }
    }
    let no_nulls = arrays.iter().all(|a| a.null_count() == 0);
    match (packed_bits(high), narrowest(low, high, &storage)) {
        (Some(bits), _) if low >= 0 && no_nulls => {
            Form::Packed { as_read: data_type.clone(), bits }
        }
        (_, Some(held)) => Form::Narrow { as_read: data_type.clone(), held },
        _ => Form::AsRead,
    }
}

fn narrower_keys(arrays: &[ArrayRef], key: &DataType) -> Form {
    let values = arrays.iter().map(|a| a.as_any_dictionary().values().len()).max().unwrap_or(0);
    let highest = i64::try_from(values).unwrap_or(i64::MAX).saturating_sub(1);
    let signed = matches!(key, DataType::Int16 | DataType::Int32 | DataType::Int64);
    let as_read = arrays[0].data_type();
    let no_nulls = arrays.iter().all(|a| a.null_count() == 0);
    if let (Some(bits), true, true) = (packed_bits(highest.max(0)), signed, no_nulls) {
        return Form::Packed { as_read: as_read.clone(), bits };
    }
    match (narrowest(0, highest, key), as_read) {
        (Some(narrow_key), DataType::Dictionary(_, values)) if signed => Form::Narrow {
            as_read: as_read.clone(),
            held: DataType::Dictionary(Box::new(narrow_key), values.clone()),
        },
        _ => Form::AsRead,
    }
}

/// Whether `value` is exactly the integer `(value × 10^places)` divided by 10^places, with
/// that integer a 32-bit one.
fn is_decimal(value: f64, scale: f64) -> bool {
    let scaled = (value * scale).round();
    // What the 32-bit integer gives back (`-0.0` gives back `0.0`: not a decimal here).
    #[allow(clippy::cast_possible_truncation)]
    let back = || f64::from(scaled as i32) / scale;
    scaled.abs() < 2f64.powi(31) && back().to_bits() == value.to_bits()
}

fn decimal_places(arrays: &[ArrayRef]) -> Form {
    let all_decimals = |places: i32| {
        let scale = 10f64.powi(places);
        arrays.iter().all(|array| {
            let floats = array.as_primitive::<Float64Type>();
            match floats.nulls() {
                None => floats.values().iter().all(|&v| is_decimal(v, scale)),
                Some(_) => floats.iter().flatten().all(|v| is_decimal(v, scale)),
            }
        })
    };
    (0..=MOST_PLACES)
        .find(|&places| all_decimals(places))
        .map_or(Form::AsRead, |places| Form::Decimal { places })
}

/// `arrays` in `form`.
fn narrow(arrays: &[ArrayRef], form: &Form) -> Result<Vec<ArrayRef>, ArrowError> {
    arrays
        .iter()
        .map(|array| match form {
            Form::AsRead => Ok(Arc::clone(array)),
            Form::Decimal { places } => {
                let scale = 10f64.powi(*places);
                let floats = array.as_primitive::<Float64Type>();
                // Within bounds for every value kept (`is_decimal`); a null's slot may hold
                // anything, and `as` saturates it.
                #[allow(clippy::cast_possible_truncation)]
                let integers = floats.unary::<_, Int32Type>(|v| (v * scale).round() as i32);
                Ok(Arc::new(integers) as ArrayRef)
            }
            Form::Packed { as_read, bits } => {
                let rows = array.len();
                Ok(Arc::new(match as_read {
                    DataType::Dictionary(_, _) => {
                        let keys = array.as_any_dictionary().normalized_keys();
                        pack(keys.into_iter().map(|k| k as u8), rows, *bits)
                    }
                    _ => {
                        let storage = integer_storage(as_read)
                            .ok_or_else(|| ArrowError::CastError("not an integer".into()))?;
                        let wide = cast(&retyped(array, &storage)?, &DataType::Int64)?;
                        let integers = wide.as_primitive::<Int64Type>();
                        pack(integers.values().iter().map(|&v| v as u8), rows, *bits)
                    }
                }) as ArrayRef)
            }
            Form::Narrow { as_read, held } => match integer_storage(as_read) {
                Some(storage) => cast(&retyped(array, &storage)?, held),
                None => cast(array, held),
            },
        })
        .collect()
}

/// A narrowed batch back in its type as read.
fn widen(array: &ArrayRef, as_read: &DataType) -> Result<ArrayRef, ArrowError> {
    match integer_storage(as_read) {
        Some(storage) => retyped(&cast(array, &storage)?, as_read),
        None => cast(array, as_read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Date32Array, DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray,
        TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::Int32Type as Keys;

    fn bytes(arrays: &[ArrayRef]) -> usize {
        arrays.iter().map(|a| a.get_array_memory_size()).sum()
    }

    /// Holds `arrays` compactly, checks every batch comes back as it was read (floats bit for
    /// bit) and returns the held form and the share of the bytes it takes.
    fn round_trip(arrays: Vec<ArrayRef>) -> (Form, f64) {
        let compact = Compact::new(arrays.clone());
        for (index, array) in arrays.iter().enumerate() {
            let back = compact.batch(index).unwrap();
            assert_eq!(back.data_type(), array.data_type());
            assert_eq!(back.to_data(), array.to_data(), "batch {index}");
            if let DataType::Float64 = array.data_type() {
                let bits = |a: &ArrayRef| -> Vec<Option<u64>> {
                    a.as_primitive::<Float64Type>().iter().map(|v| v.map(f64::to_bits)).collect()
                };
                assert_eq!(bits(&back), bits(array), "batch {index}, bit for bit");
            }
        }
        assert_eq!(
            compact.lengths().collect::<Vec<_>>(),
            arrays.iter().map(|a| a.len()).collect::<Vec<_>>()
        );
        (compact.form.clone(), compact.bytes() as f64 / bytes(&arrays) as f64)
    }

    fn batches<A: Array + 'static>(arrays: Vec<A>) -> Vec<ArrayRef> {
        arrays.into_iter().map(|a| Arc::new(a) as ArrayRef).collect()
    }

    #[test]
    fn small_counts_read_as_64_bit_integers_are_held_in_8_bits_with_their_nulls() {
        let counts = batches(vec![
            Int64Array::from(vec![Some(1), None, Some(-7), Some(120)]),
            Int64Array::from(vec![Some(3); 1000]),
        ]);
        let (form, share) = round_trip(counts);
        assert_eq!(form, Form::Narrow { as_read: DataType::Int64, held: DataType::Int8 });
        assert!(share < 0.3, "{share}");
    }

    #[test]
    fn dates_are_held_in_16_bits_and_come_back_as_dates() {
        let days: Vec<i32> = (19_000..21_000).collect();
        let (form, share) = round_trip(batches(vec![Date32Array::from(days)]));
        assert_eq!(form, Form::Narrow { as_read: DataType::Date32, held: DataType::Int16 });
        assert!(share < 0.6, "{share}");
    }

    #[test]
    fn integers_too_wide_to_narrow_are_held_as_read() {
        let micros = TimestampMicrosecondArray::from(vec![1_700_000_000_000_000, 0]);
        assert_eq!(round_trip(batches(vec![micros])).0, Form::AsRead);
        let wide = Int32Array::from(vec![i32::MIN, i32::MAX]);
        assert_eq!(round_trip(batches(vec![wide])).0, Form::AsRead);
        let fits_32 = Int64Array::from(vec![i64::from(i32::MIN), 5]);
        assert_eq!(
            round_trip(batches(vec![fits_32])).0,
            Form::Narrow { as_read: DataType::Int64, held: DataType::Int32 }
        );
    }

    #[test]
    fn a_dictionary_of_few_values_keeps_its_keys_in_8_bits() {
        let regions = StringArray::from(vec!["North", "South", "East", "West"]);
        let keys = Int32Array::from_iter((0..4000).map(|i| (i % 5 != 4).then_some(i % 4)));
        let dictionary = DictionaryArray::<Keys>::try_new(keys, Arc::new(regions)).unwrap();
        let (form, share) = round_trip(batches(vec![dictionary.clone(), dictionary]));
        let as_read = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let held = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
        assert_eq!(form, Form::Narrow { as_read, held });
        assert!(share < 0.5, "{share}");
    }

    #[test]
    fn amounts_of_two_decimal_places_are_held_as_32_bit_cents() {
        let amounts: Vec<Option<f64>> = (0..5000)
            .map(|i| (i % 9 != 0).then(|| (f64::from(i) * 1.37 * 100.0).round() / 100.0))
            .chain([Some(0.1), Some(-12.34), Some(0.0)])
            .collect();
        let (form, share) = round_trip(batches(vec![Float64Array::from(amounts)]));
        assert_eq!(form, Form::Decimal { places: 2 });
        assert!(share < 0.6, "{share}");
        let whole = Float64Array::from(vec![1.0, 2.0, -300.0]);
        assert_eq!(round_trip(batches(vec![whole])).0, Form::Decimal { places: 0 });
    }

    #[test]
    fn counts_from_0_to_15_without_nulls_are_packed_four_to_a_byte() {
        // 13 and 3 rows: the last byte of each batch is half used.
        let counts = batches(vec![
            Int64Array::from((0..13).map(|i| i % 16).collect::<Vec<i64>>()),
            Int64Array::from(vec![15, 0, 7]),
            Int64Array::from((0..4000).map(|i| 1 + i % 14).collect::<Vec<i64>>()),
        ]);
        let (form, share) = round_trip(counts);
        assert_eq!(form, Form::Packed { as_read: DataType::Int64, bits: 4 });
        assert!(share < 0.1, "{share}");
        let flags = Int32Array::from((0..1001).map(|i| i % 2).collect::<Vec<i32>>());
        assert_eq!(
            round_trip(batches(vec![flags])).0,
            Form::Packed { as_read: DataType::Int32, bits: 1 }
        );
    }

    #[test]
    fn the_keys_of_a_dictionary_of_three_values_without_nulls_take_two_bits() {
        let channels = StringArray::from(vec!["Online", "Retail", "Partner"]);
        let keys = Int32Array::from((0..4001).map(|i| (i * 7) % 3).collect::<Vec<i32>>());
        let dictionary = DictionaryArray::<Keys>::try_new(keys, Arc::new(channels)).unwrap();
        let short = dictionary.slice(0, 7);
        let (form, share) = round_trip(vec![Arc::new(dictionary) as ArrayRef, Arc::new(short)]);
        let as_read = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        assert_eq!(form, Form::Packed { as_read, bits: 2 });
        assert!(share < 0.2, "{share}");
    }

    #[test]
    fn floats_that_are_not_short_decimals_are_held_as_read() {
        for odd in [1.0 / 3.0, -0.0, f64::NAN, f64::INFINITY, 1e12, 0.123_45] {
            let floats = Float64Array::from(vec![1.5, odd, 2.25]);
            assert_eq!(round_trip(batches(vec![floats])).0, Form::AsRead, "{odd}");
        }
    }

    #[test]
    fn text_and_empty_chunks_are_held_as_read() {
        let names = StringArray::from(vec!["a", "b"]);
        assert_eq!(round_trip(batches(vec![names])).0, Form::AsRead);
        assert_eq!(round_trip(Vec::new()).0, Form::AsRead);
        let nulls = Int64Array::from(vec![None, None]);
        assert_eq!(
            round_trip(batches(vec![nulls])).0,
            Form::Narrow { as_read: DataType::Int64, held: DataType::Int8 }
        );
    }
}
