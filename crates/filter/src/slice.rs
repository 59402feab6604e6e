//! `slice` conditions: SipHash-2-4 (zero key) over the id's canonical bytes, modulo `total`.

use crate::PointId;

/// Which of `total` slices the id falls into (`total` > 0).
pub fn slice_of(id: PointId, total: u32) -> u32 {
    let h = match id {
        PointId::Num(n) => siphash24(&n.to_le_bytes()),
        PointId::Uuid(u) => siphash24(u.as_bytes()),
    };
    (h % u64::from(total)) as u32
}

fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 with a zero key.
fn siphash24(data: &[u8]) -> u64 {
    let mut v = [
        0x736f_6d65_7073_6575u64,
        0x646f_7261_6e64_6f6d,
        0x6c79_6765_6e65_7261,
        0x7465_6462_7974_6573,
    ];
    let compress = |v: &mut [u64; 4], m: u64| {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    };
    let mut chunks = data.chunks_exact(8);
    for c in chunks.by_ref() {
        compress(&mut v, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let mut last = [0u8; 8];
    let rem = chunks.remainder();
    last[..rem.len()].copy_from_slice(rem);
    last[7] = data.len() as u8;
    compress(&mut v, u64::from_le_bytes(last));
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_reference_vectors() {
        // the SipHash paper's vectors use key 00..0f; with a zero key, std's SipHasher agrees
        #[allow(deprecated)]
        fn std_hash(data: &[u8]) -> u64 {
            use std::hash::Hasher;
            let mut h = std::hash::SipHasher::new();
            h.write(data);
            h.finish()
        }
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).collect();
            assert_eq!(siphash24(&data), std_hash(&data), "len {len}");
        }
    }
}
