//! Serde helpers shared by the typed decoders: objects only, and presence told from absence.
//!
//! Every typed decoder keeps the `serde_json::Value` reading as its reference. The typed
//! reading must either give the same events or fail to deserialize (the decoder then falls
//! back to the `Value` reading), so these helpers refuse what a derived struct would accept
//! but the `Value` reading treats differently: a JSON array in place of an object (serde
//! would map it onto the fields in order), and a `null` in a field whose mere presence counts.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// `T` read from a JSON object only (never from an array, as a derived struct would be).
#[derive(Debug, Default)]
pub(crate) struct Obj<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(ObjVisitor(PhantomData))
    }
}

/// The first element of a JSON array (`None` when it is empty); the others are skipped
/// unread, for the readings that only look at the first one.
#[derive(Debug)]
pub(crate) struct First<T>(pub(crate) Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FirstVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                let first = seq.next_element::<T>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        d.deserialize_seq(FirstVisitor(PhantomData))
    }
}

/// For `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`: an absent
/// field is `None`, `null` is `Some(None)`, a value is `Some(Some(v))`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// For `#[serde(default, deserialize_with = "present")]` on a `bool`: whether the field is
/// there at all, whatever its value (`null` included).
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// For `#[serde(default, deserialize_with = "any_value")]` on an `Option<Value>`: a present
/// field is `Some`, even when it is `null`.
pub(crate) fn any_value<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}
