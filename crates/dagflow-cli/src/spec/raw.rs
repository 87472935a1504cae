//! The workflow file as written: serde types that mirror the YAML, with the
//! location of every value later checks may need to point at.
//!
//! Unknown fields are rejected here (`deny_unknown_fields`), so a typo such
//! as `depend_on` is an error with its line rather than a silently ignored key.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    pub name: Spanned<String>,
    pub concurrency: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<String>>,
    pub fail_fast: Option<bool>,
    pub env: Option<Spanned<BTreeMap<String, EnvValue>>>,
    pub tasks: Spanned<Vec<Spanned<RawTask>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTask {
    pub name: Spanned<String>,
    pub run: Option<Spanned<String>>,
    pub cmd: Option<Spanned<Vec<Spanned<ArgValue>>>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub retry: Option<Spanned<RawRetry>>,
    pub when: Option<Spanned<String>>,
    pub env: Option<Spanned<BTreeMap<String, EnvValue>>>,
    pub workdir: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub max_attempts: Option<Spanned<i64>>,
    pub initial_delay: Option<Spanned<String>>,
    pub max_delay: Option<Spanned<String>>,
    pub backoff: Option<Spanned<f64>>,
    pub jitter: Option<Spanned<f64>>,
    #[serde(default)]
    pub on_exit_codes: Vec<Spanned<i64>>,
}

/// A scalar written as an environment value or argument: strings, numbers
/// and booleans are all accepted and kept as their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvValue(pub String);

/// An element of `cmd`; like [`EnvValue`], so `[sleep, 1]` works.
pub(crate) type ArgValue = EnvValue;

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarText;

        impl Visitor<'_> for ScalarText {
            type Value = EnvValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<EnvValue, E> {
                Ok(EnvValue(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
        }

        deserializer.deserialize_any(ScalarText)
    }
}
