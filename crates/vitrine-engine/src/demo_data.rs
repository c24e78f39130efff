//! The demo's sales dataset: a million or more plausible rows (date, region, country, product,
//! category, channel, units, revenue, cost) from a seeded generator, so every demo shows the
//! same numbers. Text columns are dictionary-encoded, as Parquet stores them.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, Int8Array, Int64Array, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int8Type, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

/// Region, then its countries.
pub const REGIONS: [(&str, [&str; 3]); 5] = [
    ("North", ["Norway", "Sweden", "Finland"]),
    ("South", ["Spain", "Italy", "Portugal"]),
    ("East", ["Poland", "Czechia", "Hungary"]),
    ("West", ["France", "Ireland", "Belgium"]),
    ("Central", ["Germany", "Austria", "Switzerland"]),
];
/// Category, then its products with their unit price.
const CATEGORIES: [(&str, [(&str, f64); 4]); 5] = [
    (
        "Bikes",
        [
            ("Road bike", 1450.0),
            ("Mountain bike", 1190.0),
            ("City bike", 640.0),
            ("E-bike", 2490.0),
        ],
    ),
    ("Accessories", [("Helmet", 79.0), ("Lights", 39.0), ("Lock", 45.0), ("Bottle", 12.0)]),
    ("Clothing", [("Jersey", 65.0), ("Gloves", 29.0), ("Jacket", 149.0), ("Shorts", 55.0)]),
    ("Components", [("Wheelset", 520.0), ("Chain", 35.0), ("Brakes", 110.0), ("Saddle", 70.0)]),
    (
        "Electronics",
        [
            ("Bike computer", 299.0),
            ("Power meter", 690.0),
            ("Heart strap", 59.0),
            ("Smart trainer", 899.0),
        ],
    ),
];
const CHANNELS: [&str; 3] = ["Online", "Retail", "Partner"];
/// 2023-01-01 as days since 1970-01-01.
const FIRST_DAY: i32 = 19_358;
const DAYS: u64 = 3 * 365 + 1;
const BATCH_ROWS: usize = 65_536;

/// SplitMix64: small, fast, and the same numbers on every machine.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn schema() -> SchemaRef {
    let text = || DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("region", text(), false),
        Field::new("country", text(), false),
        Field::new("product", text(), false),
        Field::new("category", text(), false),
        Field::new("channel", text(), false),
        Field::new("units", DataType::Int64, false),
        Field::new("revenue", DataType::Float64, false),
        Field::new("cost", DataType::Float64, false),
    ]))
}

fn dictionary(keys: Vec<i8>, values: &[&str]) -> Result<ArrayRef, ArrowError> {
    DictionaryArray::<Int8Type>::try_new(
        Int8Array::from(keys),
        Arc::new(StringArray::from(values.to_vec())),
    )
    .map(|array| Arc::new(array) as ArrayRef)
}

/// `rows` rows of sales, in batches.
pub fn generate(rows: usize) -> Result<Vec<RecordBatch>, String> {
    batches(rows).collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// `rows` rows of sales, a batch at a time: the demo's data is written to disk, never held
/// whole.
pub fn batches(rows: usize) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> {
    let mut random = Random(0x05EE_D0F5_A1E5);
    let mut remaining = rows;
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        let n = remaining.min(BATCH_ROWS);
        remaining -= n;
        Some(batch(&mut random, n))
    })
}

fn batch(random: &mut Random, n: usize) -> Result<RecordBatch, ArrowError> {
    let countries: Vec<&str> = REGIONS.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let products: Vec<&str> =
        CATEGORIES.iter().flat_map(|(_, p)| p.iter().map(|(name, _)| *name)).collect();
    let categories: Vec<&str> = CATEGORIES.iter().map(|(name, _)| *name).collect();
    let regions: Vec<&str> = REGIONS.iter().map(|(name, _)| *name).collect();
    // Regions differ in size; later years sell more; summer sells more bikes.
    let region_weights = [0.16, 0.22, 0.14, 0.2, 0.28];
    {
        let (mut date, mut region, mut country, mut product, mut category, mut channel) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut units, mut revenue, mut cost) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let day = random.below(DAYS) as i32;
            let season = ((f64::from(day % 365) / 365.0 - 0.25) * std::f64::consts::TAU).sin();
            let growth = 1.0 + f64::from(day) / f64::from(DAYS as i32) * 0.35;
            let mut pick = random.unit();
            let region_index = region_weights.iter().position(|w| {
                pick -= w;
                pick < 0.0
            });
            let region_index = region_index.unwrap_or(regions.len() - 1);
            let category_index = random.below(CATEGORIES.len() as u64) as usize;
            let product_index = random.below(4) as usize;
            let (_, price) = CATEGORIES[category_index].1[product_index];
            let channel_index = random.below(CHANNELS.len() as u64) as usize;
            let bikes_in_summer =
                if category_index == 0 { 1.0 + 0.45 * season } else { 1.0 + 0.1 * season };
            let quantity = 1 + (random.below(8) as f64 * bikes_in_summer * growth) as i64;
            let discount = match channel_index {
                0 => 0.95,
                1 => 1.0,
                _ => 0.82,
            };
            let amount = (quantity as f64 * price * discount * (0.9 + random.unit() * 0.2) * 100.0)
                .round()
                / 100.0;
            let margin = 0.55 + random.unit() * 0.25;
            date.push(FIRST_DAY + day);
            region.push(region_index as i8);
            country.push((region_index * 3 + random.below(3) as usize) as i8);
            product.push((category_index * 4 + product_index) as i8);
            category.push(category_index as i8);
            channel.push(channel_index as i8);
            units.push(quantity);
            revenue.push(amount);
            cost.push((amount * margin * 100.0).round() / 100.0);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(date)),
            dictionary(region, &regions)?,
            dictionary(country, &countries)?,
            dictionary(product, &products)?,
            dictionary(category, &categories)?,
            dictionary(channel, &CHANNELS)?,
            Arc::new(Int64Array::from(units)),
            Arc::new(Float64Array::from(revenue)),
            Arc::new(Float64Array::from(cost)),
        ];
        RecordBatch::try_new(schema(), columns)
    }
}

/// Writes `rows` rows of sales as a dataset file.
pub fn write_parquet(path: &Path, rows: usize) -> Result<crate::DatasetInfo, String> {
    crate::storage::write_batches(path, schema(), batches(rows), crate::DataFormat::Parquet)
        .map_err(|e| e.to_string())
}
