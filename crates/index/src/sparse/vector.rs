//! [`SparseVector`]: strictly increasing `u32` indices with one finite `f32` value each, and the
//! exact dot product every sparse search in this crate is measured against.

use std::fmt;

/// Why a sparse vector was refused. Each variant names the offending position or index, so the
/// caller can tell the user what to fix.
#[derive(Debug, Clone, PartialEq)]
pub enum SparseVectorError {
    /// `indices` and `values` differ in length.
    LengthMismatch { indices: usize, values: usize },
    /// An index appears more than once.
    DuplicateIndex { index: u32 },
    /// A value is NaN or infinite (`position` is where it was given).
    NonFiniteValue { index: u32, position: usize },
}

impl fmt::Display for SparseVectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SparseVectorError::LengthMismatch { indices, values } => write!(
                f,
                "sparse vector has {indices} indices but {values} values; they must have the same length"
            ),
            SparseVectorError::DuplicateIndex { index } => {
                write!(f, "sparse vector index {index} appears more than once; indices must be unique")
            }
            SparseVectorError::NonFiniteValue { index, position } => write!(
                f,
                "sparse vector value at position {position} (index {index}) is not a finite number"
            ),
        }
    }
}

impl std::error::Error for SparseVectorError {}

/// A sparse vector: indices strictly increasing, values finite. Only [`SparseVector::new`] makes
/// one from outside data, so every instance holds those invariants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVector {
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseVector {
    /// Validates and sorts by index (the input may come in any order, as Qdrant accepts it).
    pub fn new(indices: Vec<u32>, values: Vec<f32>) -> Result<Self, SparseVectorError> {
        if indices.len() != values.len() {
            return Err(SparseVectorError::LengthMismatch {
                indices: indices.len(),
                values: values.len(),
            });
        }
        if let Some(position) = values.iter().position(|v| !v.is_finite()) {
            return Err(SparseVectorError::NonFiniteValue {
                index: indices[position],
                position,
            });
        }
        let (indices, values) = if indices.windows(2).all(|w| w[0] < w[1]) {
            (indices, values)
        } else {
            let mut pairs: Vec<(u32, f32)> = indices.into_iter().zip(values).collect();
            pairs.sort_by_key(|p| p.0);
            if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(SparseVectorError::DuplicateIndex { index: w[0].0 });
            }
            pairs.into_iter().unzip()
        };
        Ok(SparseVector { indices, values })
    }

    /// A vector known to hold the invariants (strictly increasing indices, finite values).
    pub(crate) fn from_sorted_unchecked(indices: Vec<u32>, values: Vec<f32>) -> Self {
        debug_assert!(indices.len() == values.len());
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        SparseVector { indices, values }
    }

    /// The indices, strictly increasing.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// The values, one per index.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// How many non-zero entries (strictly: stored entries) the vector has.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// `(index, value)` pairs in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.indices
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    /// The dot product with `other`, or `None` when the two share no index (Qdrant does not
    /// return such a point at all, rather than scoring it 0). Products are summed in index
    /// order, in `f32`, starting from `0.0` — the same order and arithmetic as the inverted
    /// indexes, so both give bit-identical scores.
    pub fn dot(&self, other: &SparseVector) -> Option<f32> {
        let (a, b) = (&self.indices, &other.indices);
        let (mut i, mut j) = (0, 0);
        let mut acc = 0.0f32;
        let mut overlap = false;
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    acc += self.values[i] * other.values[j];
                    overlap = true;
                    i += 1;
                    j += 1;
                }
            }
        }
        overlap.then_some(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sorts_and_keeps_pairs_together() {
        let v = SparseVector::new(vec![7, 2, 5], vec![0.7, 0.2, 0.5]).unwrap();
        assert_eq!(v.indices(), &[2, 5, 7]);
        assert_eq!(v.values(), &[0.2, 0.5, 0.7]);
    }

    #[test]
    fn new_refuses_malformed_input_naming_the_problem() {
        assert_eq!(
            SparseVector::new(vec![1, 2], vec![1.0]),
            Err(SparseVectorError::LengthMismatch {
                indices: 2,
                values: 1
            })
        );
        let dup = SparseVector::new(vec![3, 1, 3], vec![1.0, 2.0, 3.0]).unwrap_err();
        assert_eq!(dup, SparseVectorError::DuplicateIndex { index: 3 });
        assert!(dup.to_string().contains("index 3 appears more than once"));
        let nan = SparseVector::new(vec![4, 9], vec![1.0, f32::NAN]).unwrap_err();
        assert_eq!(
            nan,
            SparseVectorError::NonFiniteValue {
                index: 9,
                position: 1
            }
        );
        assert!(SparseVector::new(vec![1], vec![f32::INFINITY]).is_err());
        assert!(SparseVector::new(vec![], vec![]).unwrap().is_empty());
    }

    #[test]
    fn dot_is_none_without_overlap_and_counts_zero_products() {
        let a = SparseVector::new(vec![1, 3, 5], vec![1.0, 2.0, 3.0]).unwrap();
        let b = SparseVector::new(vec![3, 4, 5], vec![10.0, 1.0, -1.0]).unwrap();
        assert_eq!(a.dot(&b), Some(17.0));
        let c = SparseVector::new(vec![2, 4], vec![1.0, 1.0]).unwrap();
        assert_eq!(a.dot(&c), None);
        let zero = SparseVector::new(vec![1], vec![0.0]).unwrap();
        assert_eq!(a.dot(&zero), Some(0.0));
    }
}
