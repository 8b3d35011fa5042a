//! Value types with a unit: durations, byte sizes, CPU, percentages, request
//! rates and cron schedules. Each parses the spelling people already use in
//! Kubernetes and nginx, and serializes back to one canonical spelling.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::de::HELP_SEPARATOR;

fn invalid<E: de::Error>(message: impl fmt::Display, help: impl fmt::Display) -> E {
    E::custom(format!("{message}{HELP_SEPARATOR}{help}"))
}

/// Accepts a string or a number and hands the text to `parse`.
struct TextOrNumber<F>(&'static str, F);

impl<'de, T, F: FnOnce(&str) -> Result<T, (String, String)>> Visitor<'de> for TextOrNumber<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.1)(v.trim()).map_err(|(m, h)| invalid(m, h))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

macro_rules! string_schema {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

/// A length of time: `500ms`, `30s`, `5m`, `1h30m`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn secs(s: u64) -> Self {
        Self(std::time::Duration::from_secs(s))
    }
    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }
    /// Whole seconds, rounded up: targets that count in seconds must not
    /// cut what the spec allows.
    pub fn ceil_secs(self) -> u64 {
        u64::try_from(self.0.as_millis().div_ceil(1000)).unwrap_or(u64::MAX)
    }

    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let help = "write a number with a unit, such as `500ms`, `30s`, `5m`, `1h` or `7d`".to_owned();
        if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
            return Err((format!("`{text}` has no unit"), format!("{help}; a bare number is ambiguous")));
        }
        humantime::parse_duration(text).map(Self).map_err(|_| (format!("`{text}` is not a duration"), help))
    }

    /// The longest duration a spec may name: ten years (`3650d`). Past any
    /// timeout, recovery point or HSTS max-age; in seconds it fits the
    /// 32-bit fields of Kubernetes, and sums and products of durations with
    /// bounded counts (a probe's interval times its failure threshold) stay
    /// far from overflowing.
    pub const MAX: Self = Self::secs(3650 * 86_400);

    /// [`Duration::parse`], then the spec's bound [`Duration::MAX`].
    fn parse_in_spec(text: &str) -> Result<Self, (String, String)> {
        let duration = Self::parse(text)?;
        if duration > Self::MAX {
            return Err((
                format!("[S105] `{text}` is above the maximum, {} (ten years)", Self::MAX),
                "write a shorter duration; nothing berth renders waits longer".to_owned(),
            ));
        }
        Ok(duration)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrNumber("a duration such as `30s`", Self::parse_in_spec))
    }
}

string_schema!(Duration, "Duration", {
    "type": "string",
    "description": "A duration with a unit: `500ms`, `30s`, `5m`, `1h30m`, `7d`.",
    "pattern": "^([0-9]+(ns|us|ms|s|m|h|d|w)\\s*)+$",
    "examples": ["30s", "5m"]
});

/// An amount of memory or storage in bytes: `512Mi`, `1Gi`, `256M`, `1024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let help = "write a number with a unit such as `512Mi` or `1Gi` (Ki, Mi, Gi, Ti are powers of 1024; K, M, G, T of 1000)".to_owned();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let factor: u64 = match unit.trim() {
            "" => 1,
            "K" | "k" | "kb" | "KB" => 1000,
            "Ki" | "KiB" => 1 << 10,
            "M" | "mb" | "MB" => 1_000_000,
            "Mi" | "MiB" => 1 << 20,
            "G" | "gb" | "GB" => 1_000_000_000,
            "Gi" | "GiB" => 1 << 30,
            "T" | "tb" | "TB" => 1_000_000_000_000,
            "Ti" | "TiB" => 1 << 40,
            other => return Err((format!("unknown size unit `{other}` in `{text}`"), help)),
        };
        let value: f64 = number.parse().map_err(|_| (format!("`{text}` is not a size"), help.clone()))?;
        let bytes = value * factor as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > Self::MAX.0 as f64 {
            return Err((
                format!("[S105] `{text}` is above the maximum, {} (a pebibyte)", Self::MAX),
                "at most `1Pi`; no machine or disk berth deploys to has more".to_owned(),
            ));
        }
        Ok(Self(bytes.round() as u64))
    }

    /// The largest size a spec may name: 1 PiB, beyond any machine or disk,
    /// and far from where targets' own fields overflow.
    pub const MAX: Self = Self(1 << 50);

    pub fn mebibytes(self) -> u64 {
        self.0.div_ceil(1 << 20)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        for (unit, size) in [("T", 1_000_000_000_000u64), ("G", 1_000_000_000), ("M", 1_000_000), ("K", 1000)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrNumber("a size such as `512Mi`", Self::parse))
    }
}

string_schema!(ByteSize, "ByteSize", {
    "type": ["string", "integer"],
    "description": "An amount of memory or storage: `512Mi`, `1Gi` (powers of 1024), `500M` (powers of 1000), or bytes.",
    "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(K|k|Ki|M|Mi|G|Gi|T|Ti|KB|MB|GB|TB|KiB|MiB|GiB|TiB|kb|mb|gb|tb)?$",
    "examples": ["512Mi", "1Gi"]
});

/// CPU in millicores: `100m`, `0.5`, `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu(pub u64);

impl Cpu {
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let help = "write cores (`0.5`, `2`) or millicores (`500m`)".to_owned();
        // No machine or task has more; past it, targets' own fields overflow.
        let too_much = || {
            (
                format!("[S105] `{text}` is more CPU than any machine has, above the maximum of {} cores", Self::MAX),
                format!("at most {} cores (`{}` or `{}m`)", Self::MAX, Self::MAX, Self::MAX.0),
            )
        };
        let millis = if let Some(m) = text.strip_suffix('m') {
            match m.parse::<u64>() {
                Ok(millis) => millis,
                // Digits too many for any integer: out of range, not malformed.
                Err(_) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => return Err(too_much()),
                Err(_) => return Err((format!("`{text}` is not a CPU amount"), help)),
            }
        } else {
            let cores: f64 = text.parse().map_err(|_| (format!("`{text}` is not a CPU amount"), help.clone()))?;
            if !cores.is_finite() || cores < 0.0 {
                return Err((format!("`{text}` is not a CPU amount"), help));
            }
            if cores > Self::MAX.cores() {
                return Err(too_much());
            }
            (cores * 1000.0).round() as u64
        };
        if millis > Self::MAX.0 {
            return Err(too_much());
        }
        Ok(Self(millis))
    }

    /// The most CPU a spec may ask for: 1024 cores.
    pub const MAX: Self = Self(1_024_000);

    pub fn cores(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) { write!(f, "{}", self.0 / 1000) } else { write!(f, "{}m", self.0) }
    }
}

impl<'de> Deserialize<'de> for Cpu {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrNumber("a CPU amount such as `500m`", Self::parse))
    }
}

string_schema!(Cpu, "Cpu", {
    "type": ["string", "number"],
    "description": "CPU as cores (`0.5`, `2`) or millicores (`500m`).",
    "pattern": "^([0-9]+m|[0-9]+(\\.[0-9]+)?)$",
    "examples": ["250m", "1"]
});

/// A percentage from 0 to 100: `80` or `"80%"`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let help = "write a percentage between 0 and 100, such as `80` or `\"2.5%\"`".to_owned();
        let value: f64 = text
            .trim_end_matches('%')
            .trim()
            .parse()
            .map_err(|_| (format!("`{text}` is not a percentage"), help.clone()))?;
        if !(0.0..=100.0).contains(&value) {
            return Err((format!("{value}% is outside 0..100"), help));
        }
        Ok(Self(value))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrNumber("a percentage", Self::parse))
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["number", "string"],
            "description": "A percentage from 0 to 100: `80` or `\"2.5%\"`.",
            "minimum": 0, "maximum": 100, "pattern": "^[0-9]+(\\.[0-9]+)?%$"
        })
    }
}

/// A request rate: `10/s`, `600/m`, `5000/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub requests: u32,
    pub per: RateUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateUnit {
    Second,
    Minute,
    Hour,
}

impl Rate {
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let help = "write requests per unit: `10/s`, `600/m` or `5000/h`".to_owned();
        let (n, unit) = text.split_once('/').ok_or_else(|| (format!("`{text}` is not a rate"), help.clone()))?;
        let requests: u32 =
            n.trim().parse().map_err(|_| (format!("`{n}` is not a whole number of requests"), help.clone()))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => RateUnit::Second,
            "m" | "min" | "minute" => RateUnit::Minute,
            "h" | "hour" => RateUnit::Hour,
            other => return Err((format!("unknown rate unit `{other}`"), help)),
        };
        if requests == 0 {
            return Err(("a rate of zero blocks every request".to_owned(), help));
        }
        Ok(Self { requests, per })
    }

    /// Requests per second, for comparing with a burst.
    pub fn per_second(self) -> f64 {
        let seconds = match self.per {
            RateUnit::Second => 1.0,
            RateUnit::Minute => 60.0,
            RateUnit::Hour => 3600.0,
        };
        f64::from(self.requests) / seconds
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per {
            RateUnit::Second => "s",
            RateUnit::Minute => "m",
            RateUnit::Hour => "h",
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrNumber("a rate such as `10/s`", Self::parse))
    }
}

string_schema!(Rate, "Rate", {
    "type": "string",
    "description": "Requests per unit of time: `10/s`, `600/m`, `5000/h`.",
    "pattern": "^[0-9]+/(s|m|h)$",
    "examples": ["10/s"]
});

/// A cron schedule in five fields (`0 3 * * *`) or a shorthand (`@daily`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schedule(pub String);

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, (String, String)> {
        let help = "use five cron fields `minute hour day-of-month month day-of-week`, such as `0 3 * * *`, or @hourly, @daily, @weekly, @monthly".to_owned();
        if ["@hourly", "@daily", "@weekly", "@monthly", "@yearly"].contains(&text) {
            return Ok(Self(text.to_owned()));
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err((format!("`{text}` has {} fields, a cron schedule has 5", fields.len()), help));
        }
        let ranges =
            [(0, 59, "minute"), (0, 23, "hour"), (1, 31, "day of month"), (1, 12, "month"), (0, 7, "day of week")];
        for (field, (min, max, name)) in fields.iter().zip(ranges) {
            if !cron_field_ok(field, min, max) {
                return Err((format!("`{field}` is not a valid {name} ({min}-{max})"), help));
            }
        }
        Ok(Self(fields.join(" ")))
    }
}

/// The five cron fields' ranges: minute, hour, day of month, month, day
/// of week (0 and 7 are Sunday).
const CRON_RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

impl Schedule {
    /// The five fields, with shorthands spelled out.
    pub fn fields(&self) -> [&str; 5] {
        let text = match self.0.as_str() {
            "@hourly" => "0 * * * *",
            "@daily" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" => "0 0 1 1 *",
            other => other,
        };
        let mut fields = ["*"; 5];
        for (slot, field) in fields.iter_mut().zip(text.split_whitespace()) {
            *slot = field;
        }
        fields
    }

    /// The values field `index` (0 minute … 4 day of week) selects, in
    /// order and without repeats (a day of week 7 is 0), or `None` when the
    /// field is `*`.
    pub fn values(&self, index: usize) -> Option<Vec<u32>> {
        let field = *self.fields().get(index)?;
        if field == "*" {
            return None;
        }
        let mut values = cron_field_values(field, *CRON_RANGES.get(index)?);
        if index == 4 {
            values.iter_mut().filter(|v| **v == 7).for_each(|v| *v = 0);
        }
        values.sort_unstable();
        values.dedup();
        Some(values)
    }

    /// Whether the schedule fires at this minute (UTC; `weekday` 0 is
    /// Sunday). As in cron, when both the day of month and the day of week
    /// are restricted, a day matching either fires.
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        let [m, h, ..] = self.fields();
        let hit = |field: &str, i: usize, value: u32| cron_field_values(field, CRON_RANGES[i]).contains(&value);
        hit(m, 0, minute) && hit(h, 1, hour) && self.matches_day(day, month, weekday)
    }

    /// Whether the schedule fires at some time of this day.
    pub fn matches_day(&self, day: u32, month: u32, weekday: u32) -> bool {
        let [_, _, dom, mon, dow] = self.fields();
        let hit = |field: &str, i: usize, value: u32| cron_field_values(field, CRON_RANGES[i]).contains(&value);
        let dow_hit = hit(dow, 4, weekday) || (weekday == 0 && hit(dow, 4, 7));
        let day_hit = match (dom.starts_with('*'), dow.starts_with('*')) {
            (false, false) => hit(dom, 2, day) || dow_hit,
            _ => hit(dom, 2, day) && dow_hit,
        };
        hit(mon, 3, month) && day_hit
    }

    /// The first time of day (hour, minute) the schedule fires at, strictly
    /// after `after` when given, on a day it fires ([`Self::matches_day`]).
    pub fn next_time_in_day(&self, after: Option<(u32, u32)>) -> Option<(u32, u32)> {
        let hours = self.values(1).unwrap_or_else(|| (0..24).collect());
        let minutes = self.values(0).unwrap_or_else(|| (0..60).collect());
        hours.iter().flat_map(|h| minutes.iter().map(move |m| (*h, *m))).find(|t| after.is_none_or(|a| *t > a))
    }
}

/// Every value a valid cron field selects.
fn cron_field_values(field: &str, (min, max): (u32, u32)) -> Vec<u32> {
    let mut values = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().unwrap_or(1).max(1)),
            None => (part, 1),
        };
        let (from, to) = match (range, range.split_once('-')) {
            ("*", _) => (min, max),
            (_, Some((a, b))) => (a.parse().unwrap_or(min), b.parse().unwrap_or(max)),
            // `5/10`: from 5 to the end, every 10th.
            (single, None) if part.contains('/') => (single.parse().unwrap_or(min), max),
            (single, None) => {
                let v = single.parse().unwrap_or(min);
                (v, v)
            }
        };
        values.extend((from..=to).step_by(step as usize));
    }
    values
}

fn cron_field_ok(field: &str, min: u32, max: u32) -> bool {
    field.split(',').all(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|s| s >= 1 && s <= max.max(1)));
        let in_range = |v: &str| v.parse::<u32>().is_ok_and(|v| (min..=max).contains(&v));
        let range_ok = range == "*"
            || match range.split_once('-') {
                Some((a, b)) => in_range(a) && in_range(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok(),
                None => in_range(range),
            };
        step_ok && range_ok
    })
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrNumber("a cron schedule", Self::parse))
    }
}

string_schema!(Schedule, "Schedule", {
    "type": "string",
    "description": "A cron schedule (`minute hour day month weekday`, such as `0 3 * * *`) or @hourly, @daily, @weekly, @monthly.",
    "examples": ["0 3 * * *", "@daily"]
});

#[cfg(test)]
mod schedule_tests {
    use super::Schedule;

    fn s(text: &str) -> Schedule {
        Schedule::parse(text).unwrap()
    }

    #[test]
    fn minutes_hours_steps_and_lists() {
        assert!(s("0 3 * * *").matches(0, 3, 17, 5, 2));
        assert!(!s("0 3 * * *").matches(1, 3, 17, 5, 2));
        assert!(s("*/15 * * * *").matches(45, 9, 1, 1, 1));
        assert!(!s("*/15 * * * *").matches(44, 9, 1, 1, 1));
        assert!(s("5/20 * * * *").matches(25, 0, 1, 1, 1));
        assert!(!s("5/20 * * * *").matches(20, 0, 1, 1, 1));
        assert!(s("0 9-17/4 * * 1-5").matches(0, 13, 3, 3, 5));
        assert!(!s("0 9-17/4 * * 1-5").matches(0, 13, 3, 3, 6));
        assert!(s("0 0 1,15 * *").matches(0, 0, 15, 2, 3));
    }

    #[test]
    fn sunday_is_0_and_7_and_shorthands_spell_out() {
        assert!(s("0 0 * * 7").matches(0, 0, 4, 1, 0));
        assert!(s("@weekly").matches(0, 0, 4, 1, 0));
        assert!(!s("@weekly").matches(0, 0, 5, 1, 1));
        assert!(s("@monthly").matches(0, 0, 1, 7, 3));
        assert!(s("@hourly").matches(0, 13, 9, 9, 2));
    }

    #[test]
    fn day_of_month_or_day_of_week_when_both_are_restricted() {
        // Vixie cron: the 1st of the month, and every Monday.
        let both = s("0 0 1 * 1");
        assert!(both.matches(0, 0, 1, 6, 4));
        assert!(both.matches(0, 0, 9, 6, 1));
        assert!(!both.matches(0, 0, 9, 6, 2));
        // With one of them `*`, both must hold.
        assert!(!s("0 0 * * 1").matches(0, 0, 1, 6, 4));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for (text, shown) in [("30s", "30s"), ("1h30m", "90m"), ("500ms", "500ms"), ("7d", "7d")] {
            assert_eq!(Duration::parse(text).map(|d| d.to_string()), Ok(shown.to_owned()));
        }
        assert!(Duration::parse("30").is_err());
        assert!(Duration::parse("soon").is_err());
    }

    #[test]
    fn sizes_use_binary_and_decimal_units() {
        assert_eq!(ByteSize::parse("512Mi").map(|b| b.0), Ok(512 << 20));
        assert_eq!(ByteSize::parse("1G").map(|b| b.0), Ok(1_000_000_000));
        assert_eq!(ByteSize::parse("1Gi").map(|b| b.to_string()), Ok("1Gi".to_owned()));
        assert!(ByteSize::parse("12parsecs").is_err());
    }

    #[test]
    fn cpu_in_cores_or_millicores() {
        assert_eq!(Cpu::parse("250m").map(|c| c.0), Ok(250));
        assert_eq!(Cpu::parse("1.5").map(|c| c.0), Ok(1500));
        assert_eq!(Cpu::parse("2").map(|c| c.to_string()), Ok("2".to_owned()));
        assert_eq!(Cpu::parse("1024").map(|c| c.0), Ok(1_024_000));
    }

    #[test]
    fn amounts_past_any_machine_are_out_of_range() {
        for text in ["18014398509481985m", "99999999999999999999999m", "1025", "1024001m", "1e7"] {
            let (message, help) = Cpu::parse(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert!(message.starts_with("[S105] "), "{text}: {message}");
            assert!(message.contains(text) && message.contains("1024 cores"), "{text}: {message}");
            assert!(help.contains("1024"), "{help}");
        }
        assert!(Cpu::parse("-1").is_err_and(|(m, _)| !m.starts_with("[S105]")));
        assert!(Cpu::parse("lots").is_err_and(|(m, _)| !m.starts_with("[S105]")));
        let (message, _) = ByteSize::parse("2048Ti").err().unwrap_or_else(|| panic!("2048Ti parsed"));
        assert!(
            message.starts_with("[S105] ") && message.contains("2048Ti") && message.contains("1024Ti"),
            "{message}"
        );
        assert_eq!(ByteSize::parse("1024Ti").map(|b| b.0), Ok(1 << 50));
    }

    #[test]
    fn durations_in_a_spec_stop_at_ten_years() {
        assert_eq!(Duration::parse_in_spec("3650d"), Ok(Duration::MAX));
        let (message, _) = Duration::parse_in_spec("3651d").err().unwrap_or_else(|| panic!("3651d parsed"));
        assert!(message.starts_with("[S105] ") && message.contains("3651d") && message.contains("3650d"), "{message}");
        // Outside a spec (reading other tools' files) the bound does not apply.
        assert!(Duration::parse("20y").is_ok());
    }

    #[test]
    fn rates_and_schedules() {
        assert_eq!(Rate::parse("600/m").map(Rate::per_second), Ok(10.0));
        assert!(Rate::parse("0/s").is_err());
        assert!(Schedule::parse("0 3 * * *").is_ok());
        assert!(Schedule::parse("*/15 0-6 1,15 * 1-5").is_ok());
        assert!(Schedule::parse("61 3 * * *").is_err());
        assert!(Schedule::parse("daily").is_err());
    }
}
