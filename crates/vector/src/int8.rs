//! Integer kernels for 8-bit codes (scalar quantization): the dot product of unsigned and
//! signed bytes, and the Manhattan distance of unsigned bytes, both exact in integers.
//!
//! | set            | where                                   | dot                    | l1             |
//! |----------------|-----------------------------------------|------------------------|----------------|
//! | `"avx512vnni"` | x86_64 with AVX-512 F, BW and VNNI      | `vpdpbusd`, 64 B/step  | `vpsadbw`      |
//! | `"avx2"`       | x86_64 with AVX2                        | widen to i16, `vpmaddwd` | `vpsadbw`    |
//! | `"scalar"`     | everywhere                              | plain loop             | plain loop     |
//!
//! The set is chosen once, like the f32 kernels'; `RVDB_KERNEL=scalar` (or any choice that made
//! the f32 kernels scalar) forces the scalar set here too. All sets give identical results
//! (integer sums; lengths up to 2^23 bytes cannot overflow an i32 accumulator).
//!
//! Lengths: both slices should have the same length; only the common prefix is read.

use std::sync::OnceLock;

/// The chosen integer kernels.
#[derive(Clone, Copy, Debug)]
pub struct Int8Kernels {
    /// `"avx512vnni"`, `"avx2"` or `"scalar"`.
    pub name: &'static str,
    /// `Σ a[i] · b[i]` of unsigned and signed bytes.
    pub dot_u8i8: fn(&[u8], &[i8]) -> i32,
    /// `Σ |a[i] − b[i]|` of unsigned bytes.
    pub l1_u8: fn(&[u8], &[u8]) -> u32,
}

/// The best integer kernels this CPU runs (respecting a scalar choice of the f32 kernels).
pub fn int8_kernels() -> &'static Int8Kernels {
    static CHOSEN: OnceLock<Int8Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        if crate::active_kernel() == "scalar" {
            return scalar_set();
        }
        available_int8()
            .into_iter()
            .next()
            .unwrap_or_else(scalar_set)
    })
}

/// Every integer kernel set this CPU can run, best first; the last is `"scalar"`.
pub fn available_int8() -> Vec<Int8Kernels> {
    let mut sets = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
        {
            sets.push(Int8Kernels {
                name: "avx512vnni",
                dot_u8i8: |a, b| unsafe { x86::dot_u8i8_vnni(a, b) },
                l1_u8: |a, b| unsafe { x86::l1_u8_avx512(a, b) },
            });
        }
        if is_x86_feature_detected!("avx2") {
            sets.push(Int8Kernels {
                name: "avx2",
                dot_u8i8: |a, b| unsafe { x86::dot_u8i8_avx2(a, b) },
                l1_u8: |a, b| unsafe { x86::l1_u8_avx2(a, b) },
            });
        }
    }
    sets.push(scalar_set());
    sets
}

fn scalar_set() -> Int8Kernels {
    Int8Kernels {
        name: "scalar",
        dot_u8i8: dot_u8i8_scalar,
        l1_u8: l1_u8_scalar,
    }
}

/// `Σ a[i] · b[i]` over the common prefix (dispatched).
#[inline]
pub fn dot_u8i8(a: &[u8], b: &[i8]) -> i32 {
    (int8_kernels().dot_u8i8)(a, b)
}

/// `Σ |a[i] − b[i]|` over the common prefix (dispatched).
#[inline]
pub fn l1_u8(a: &[u8], b: &[u8]) -> u32 {
    (int8_kernels().l1_u8)(a, b)
}

fn dot_u8i8_scalar(a: &[u8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

fn l1_u8_scalar(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u32::from(x.abs_diff(y)))
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU supports AVX-512 F, BW and VNNI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn dot_u8i8_vnni(a: &[u8], b: &[i8]) -> i32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm512_setzero_si512();
        let mut acc1 = _mm512_setzero_si512();
        let mut i = 0;
        while i + 128 <= n {
            // SAFETY: i + 128 <= n, both slices hold n bytes; unaligned loads
            unsafe {
                let x0 = _mm512_loadu_si512(pa.add(i).cast());
                let y0 = _mm512_loadu_si512(pb.add(i).cast());
                let x1 = _mm512_loadu_si512(pa.add(i + 64).cast());
                let y1 = _mm512_loadu_si512(pb.add(i + 64).cast());
                acc0 = _mm512_dpbusd_epi32(acc0, x0, y0);
                acc1 = _mm512_dpbusd_epi32(acc1, x1, y1);
            }
            i += 128;
        }
        if i + 64 <= n {
            // SAFETY: as above
            unsafe {
                let x = _mm512_loadu_si512(pa.add(i).cast());
                let y = _mm512_loadu_si512(pb.add(i).cast());
                acc0 = _mm512_dpbusd_epi32(acc0, x, y);
            }
            i += 64;
        }
        if i < n {
            // the tail through masked loads (masked-off bytes read as zero)
            let mask: __mmask64 = (1u64 << (n - i)) - 1;
            // SAFETY: the mask covers only the n - i bytes that exist
            unsafe {
                let x = _mm512_maskz_loadu_epi8(mask, pa.add(i).cast());
                let y = _mm512_maskz_loadu_epi8(mask, pb.add(i).cast());
                acc1 = _mm512_dpbusd_epi32(acc1, x, y);
            }
        }
        _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1))
    }

    /// # Safety
    /// The CPU supports AVX-512 F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn l1_u8_avx512(a: &[u8], b: &[u8]) -> u32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = _mm512_setzero_si512();
        let mut i = 0;
        while i + 64 <= n {
            // SAFETY: i + 64 <= n
            unsafe {
                let x = _mm512_loadu_si512(pa.add(i).cast());
                let y = _mm512_loadu_si512(pb.add(i).cast());
                acc = _mm512_add_epi64(acc, _mm512_sad_epu8(x, y));
            }
            i += 64;
        }
        if i < n {
            let mask: __mmask64 = (1u64 << (n - i)) - 1;
            // SAFETY: the mask covers only the bytes that exist
            unsafe {
                let x = _mm512_maskz_loadu_epi8(mask, pa.add(i).cast());
                let y = _mm512_maskz_loadu_epi8(mask, pb.add(i).cast());
                acc = _mm512_add_epi64(acc, _mm512_sad_epu8(x, y));
            }
        }
        _mm512_reduce_add_epi64(acc) as u32
    }

    /// # Safety
    /// The CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot_u8i8_avx2(a: &[u8], b: &[i8]) -> i32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n; 16-byte unaligned loads
            unsafe {
                let x = _mm256_cvtepu8_epi16(_mm_loadu_si128(pa.add(i).cast()));
                let y = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i).cast()));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
            }
            i += 16;
        }
        let mut lanes = [0i32; 8];
        // SAFETY: 32 writable bytes
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        let tail: i32 = a[i..n]
            .iter()
            .zip(&b[i..n])
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        lanes.iter().sum::<i32>() + tail
    }

    /// # Safety
    /// The CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn l1_u8_avx2(a: &[u8], b: &[u8]) -> u32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = _mm256_setzero_si256();
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: i + 32 <= n
            unsafe {
                let x = _mm256_loadu_si256(pa.add(i).cast());
                let y = _mm256_loadu_si256(pb.add(i).cast());
                acc = _mm256_add_epi64(acc, _mm256_sad_epu8(x, y));
            }
            i += 32;
        }
        let mut lanes = [0u64; 4];
        // SAFETY: 32 writable bytes
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        let tail: u32 = a[i..n]
            .iter()
            .zip(&b[i..n])
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum();
        lanes.iter().sum::<u64>() as u32 + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn every_set_matches_the_scalar_reference_at_every_length() {
        let mut rng = StdRng::seed_from_u64(3);
        for n in (0..=200).chain([255, 256, 257, 1024, 1536, 4099]) {
            let a: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            let c: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            let b: Vec<i8> = (0..n).map(|_| rng.random()).collect();
            let (dot, l1) = (dot_u8i8_scalar(&a, &b), l1_u8_scalar(&a, &c));
            for set in available_int8() {
                assert_eq!((set.dot_u8i8)(&a, &b), dot, "{} dot at {n}", set.name);
                assert_eq!((set.l1_u8)(&a, &c), l1, "{} l1 at {n}", set.name);
            }
        }
    }

    #[test]
    fn extremes_do_not_saturate() {
        let n = 4096;
        let a = vec![255u8; n];
        let b = vec![-128i8; n];
        let c = vec![0u8; n];
        for set in available_int8() {
            assert_eq!(
                (set.dot_u8i8)(&a, &b),
                -255 * 128 * n as i32,
                "{}",
                set.name
            );
            assert_eq!((set.dot_u8i8)(&a, &[127i8; 4096]), 255 * 127 * n as i32);
            assert_eq!((set.l1_u8)(&a, &c), 255 * n as u32, "{}", set.name);
        }
    }

    #[test]
    fn only_the_common_prefix_is_read() {
        for set in available_int8() {
            assert_eq!((set.dot_u8i8)(&[1, 2, 3], &[1, 1]), 3, "{}", set.name);
            assert_eq!((set.l1_u8)(&[5; 70], &[0; 65]), 325, "{}", set.name);
        }
    }
}
