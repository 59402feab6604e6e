//! A dense vector space's element type (Qdrant's `datatype`): `float32`, `float16` or `uint8`.
//!
//! What is stored is what Qdrant stores: a vector is prepared as for float32 (unit length under
//! Cosine), then each value is cast to the element type, `float16` by rounding to the nearest
//! half and `uint8` by Rust's saturating `as u8` (truncation toward zero, negatives and NaN to
//! 0, above 255 to 255). A `uint8` vector is not normalised: under Cosine its similarity is the
//! full `dot / (|a|·|b|)`. Queries are cast the same way, so scores are those of the stored
//! element values.
//!
//! Columns hold the values in the element type (half or a quarter of the float32 bytes, in
//! memory and in segment files); scoring reads them back as f32 through a
//! [`Elem::view`], which for `uint8` under Cosine scales the row to unit length, so the rest of
//! the engine scores every space as a float32 one (`dot` of unit vectors under Cosine).

use rvdb_vector::Distance;

use crate::{EngineError, Result};

/// A dense vector space's element type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Datatype {
    #[default]
    Float32,
    Float16,
    Uint8,
}

impl Datatype {
    /// Qdrant's names: `float32`, `float16`, `uint8`.
    pub fn parse(s: &str) -> Result<Datatype> {
        match s {
            "float32" => Ok(Datatype::Float32),
            "float16" => Ok(Datatype::Float16),
            "uint8" => Ok(Datatype::Uint8),
            other => Err(EngineError::bad(format!(
                "datatype: unknown datatype `{other}`; expected float32, float16 or uint8"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::Float32 => "float32",
            Datatype::Float16 => "float16",
            Datatype::Uint8 => "uint8",
        }
    }

    /// Bytes per value.
    pub fn width(self) -> usize {
        match self {
            Datatype::Float32 => 4,
            Datatype::Float16 => 2,
            Datatype::Uint8 => 1,
        }
    }

    /// The byte a segment's vectors file records it by (0 is float32, as in files written
    /// before datatypes were stored).
    pub(crate) fn code(self) -> u8 {
        match self {
            Datatype::Float32 => 0,
            Datatype::Float16 => 1,
            Datatype::Uint8 => 2,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Datatype> {
        match c {
            0 => Some(Datatype::Float32),
            1 => Some(Datatype::Float16),
            2 => Some(Datatype::Uint8),
            _ => None,
        }
    }

    /// One value as this type stores it, read back as f32.
    #[inline]
    pub fn cast(self, x: f32) -> f32 {
        self.element().cast(x)
    }

    /// The graph element type that stores this type's values exactly.
    pub(crate) fn element(self) -> rvdb_index::Element {
        match self {
            Datatype::Float32 => rvdb_index::Element::F32,
            Datatype::Float16 => rvdb_index::Element::F16,
            Datatype::Uint8 => rvdb_index::Element::U8,
        }
    }
}

/// How a column's rows are stored and scored: its element type, and whether a row is scaled to
/// unit length when scored (`uint8` under Cosine, the one case where stored vectors are not
/// normalised).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Elem {
    pub(crate) dtype: Datatype,
    pub(crate) renorm: bool,
}

impl Elem {
    pub(crate) fn of(dtype: Datatype, distance: Distance) -> Elem {
        Elem {
            dtype,
            renorm: dtype == Datatype::Uint8 && distance == Distance::Cosine,
        }
    }

    /// Scales a stored row to what scoring sees (unit length for `uint8` under Cosine).
    #[inline]
    pub(crate) fn view(self, row: &mut [f32]) {
        if self.renorm {
            Distance::Cosine.prepare(row);
        }
    }
}

/// Prepares a vector for storage in a space of `distance` and `dtype`: unit length under
/// Cosine (not for `uint8`), then each value cast to the element type.
pub(crate) fn prepare_stored(distance: Distance, dtype: Datatype, v: &mut [f32]) {
    if dtype != Datatype::Uint8 {
        distance.prepare(v);
    }
    if dtype != Datatype::Float32 {
        for x in v.iter_mut() {
            *x = dtype.cast(*x);
        }
    }
}

/// Prepares a query vector for a space of `distance` and `dtype`: cast as a stored vector is,
/// then seen as scoring sees a stored row.
pub(crate) fn prepare_query(distance: Distance, dtype: Datatype, v: &mut [f32]) {
    prepare_stored(distance, dtype, v);
    Elem::of(dtype, distance).view(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for d in [Datatype::Float32, Datatype::Float16, Datatype::Uint8] {
            assert_eq!(Datatype::parse(d.as_str()).unwrap(), d);
            assert_eq!(Datatype::from_code(d.code()), Some(d));
        }
        let e = Datatype::parse("int4").unwrap_err().to_string();
        assert!(e.contains("datatype") && e.contains("int4"), "{e}");
    }

    #[test]
    fn casts_are_qdrants() {
        let u = Datatype::Uint8;
        assert_eq!(
            [-3.0, 0.4, 1.9, 255.0, 300.0, f32::NAN].map(|x| u.cast(x)),
            [0.0, 0.0, 1.0, 255.0, 255.0, 0.0]
        );
        let h = Datatype::Float16;
        assert_eq!(h.cast(1.0), 1.0);
        assert_eq!(h.cast(0.1), 0.099_975_586);
        assert_eq!(h.cast(1e6), f32::INFINITY);
    }

    #[test]
    fn uint8_under_cosine_is_stored_raw_and_scored_unit() {
        let mut v = vec![3.7, 4.2];
        prepare_stored(Distance::Cosine, Datatype::Uint8, &mut v);
        assert_eq!(v, [3.0, 4.0]);
        let mut q = vec![3.7, 4.2];
        prepare_query(Distance::Cosine, Datatype::Uint8, &mut q);
        assert_eq!(q, [0.6, 0.8]);
        let mut f = vec![3.0, 4.0];
        prepare_stored(Distance::Cosine, Datatype::Float16, &mut f);
        assert_eq!(f, [0.6 as f32, 0.8].map(|x| Datatype::Float16.cast(x)));
    }
}
