//! The byte format of an [`HnswIndex`] (version 2; version 1 is still read). Little-endian
//! throughout:
//!
//! | field | type | notes |
//! |---|---|---|
//! | magic | 8 bytes | `RVDBHNSW` |
//! | version | u32 | 2 |
//! | distance | u32 | 0 Cosine, 1 Euclid, 2 Dot, 3 Manhattan; plus 256 × the element type (0 f32, 1 float16, 2 uint8) |
//! | dim, n, m, cap0, cap_up, ef_construct | u32 × 6 | `cap0 = 2m`, `cap_up = m` today |
//! | entry, max_level | u32 × 2 | entry = `u32::MAX` when `n == 0` |
//! | levels | n × u8, then zero bytes up to a multiple of 4 | |
//! | upper | u32 count, then count × u32 | upper-layer links, node by node in row order, each node's layers 1..=L, `cap_up` slots per layer, `u32::MAX` = empty |
//! | padding | zero bytes up to a multiple of 64 | so the blocks can be mapped in place |
//! | blocks | n × stride × u32 | each node's block as in memory (`graph.rs`): `link_words` words of layer-0 links (`cap0` slots, `u32::MAX` = empty, the rest `u32::MAX` too), then the vector region: dim values of w bytes (4, 2 or 1) as stored (prepared), zero-padded to whole lines |
//! | group offsets | u32 count (0 or n + 1), then count × u32 | CSR of `build_with_groups` links |
//! | group links | u32 count, then count × u32 | |
//! | checksum | u32 | CRC32C of every byte before it |
//!
//! Version 1 had, instead of the padding and blocks, layer 0 as `n × cap0 × u32` and then the
//! vectors as `n × ⌈dim × w / 4⌉ × u32`.
//!
//! Decoding checks the magic, version, checksum and every size, and that every link names a
//! node that exists on that layer, so a graph read back can be searched without further checks.
//! A version 2 file can be decoded in place ([`decode`] with `shared`): the graph's blocks are
//! then the file's bytes (a mapped file: `on_disk`), not a copy.

use rvdb_vector::Distance;

use super::graph::{as_words, as_words_mut, Blocks, Element, Graph, Layout, SharedBytes, NONE};
use super::HnswIndex;

const MAGIC: &[u8; 8] = b"RVDBHNSW";
const VERSION: u32 = 2;
/// Block region alignment in the file (a [`Line`]).
const ALIGN: usize = 64;

fn elem_code(e: Element) -> u32 {
    match e {
        Element::F32 => 0,
        Element::F16 => 1,
        Element::U8 => 2,
    }
}

/// Words of a row of `dim` values of `elem` in the file.
fn stored_words(dim: usize, elem: Element) -> usize {
    (dim * elem.width()).div_ceil(4)
}

pub(crate) fn distance_code(d: Distance) -> u32 {
    match d {
        Distance::Cosine => 0,
        Distance::Euclid => 1,
        Distance::Dot => 2,
        Distance::Manhattan => 3,
    }
}

pub(crate) fn encode(ix: &HnswIndex) -> Vec<u8> {
    let g = &ix.graph;
    let lay = g.lay;
    let mut out = Vec::with_capacity(ix.memory_bytes() + 128);
    let put = |out: &mut Vec<u8>, x: u32| out.extend_from_slice(&x.to_le_bytes());
    out.extend_from_slice(MAGIC);
    put(&mut out, VERSION);
    put(
        &mut out,
        distance_code(ix.distance) | (elem_code(lay.elem) << 8),
    );
    for x in [
        lay.dim,
        g.n,
        ix.m,
        lay.cap0,
        lay.cap_up,
        ix.ef_construct,
        g.entry as usize,
        g.max_level,
    ] {
        put(&mut out, x as u32);
    }
    out.extend_from_slice(&g.levels);
    out.resize(out.len().next_multiple_of(4), 0);
    put(&mut out, g.upper.len() as u32);
    for &x in &g.upper {
        put(&mut out, x);
    }
    out.resize(out.len().next_multiple_of(ALIGN), 0);
    let words = as_words(&g.blocks);
    if cfg!(target_endian = "little") {
        out.extend_from_slice(bytemuck::cast_slice(words));
    } else {
        for &x in words {
            put(&mut out, x);
        }
    }
    put(&mut out, ix.group_off.len() as u32);
    for &x in &ix.group_off {
        put(&mut out, x);
    }
    put(&mut out, ix.group_links.len() as u32);
    for &x in &ix.group_links {
        put(&mut out, x);
    }
    let crc = crc32c::crc32c(&out);
    put(&mut out, crc);
    out
}

pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl Reader<'_> {
    pub(crate) fn bytes(&mut self, len: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| "truncated HNSW index".to_string())?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        let s = self.bytes(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub(crate) fn usize(&mut self) -> Result<usize, String> {
        Ok(self.u32()? as usize)
    }

    pub(crate) fn u32s(&mut self, count: usize) -> Result<Vec<u32>, String> {
        let s = self.bytes(
            count
                .checked_mul(4)
                .ok_or_else(|| "HNSW index size overflow".to_string())?,
        )?;
        Ok(s.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Decodes `b`; with `shared` (the same bytes, kept alive by it), a version 2 graph's blocks are
/// viewed in place rather than copied (on little-endian machines, where the block region is
/// 64-byte aligned in memory).
pub(crate) fn decode(b: &[u8], shared: Option<SharedBytes>) -> Result<HnswIndex, String> {
    if b.len() < MAGIC.len() + 8 || &b[..MAGIC.len()] != MAGIC {
        return Err("not an HNSW index (bad magic)".into());
    }
    let (body, tail) = b.split_at(b.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if crc32c::crc32c(body) != stored {
        return Err("HNSW index checksum mismatch".into());
    }
    let mut r = Reader { b: body, pos: 8 };
    let version = r.u32()?;
    if version != VERSION && version != 1 {
        return Err(format!("unsupported HNSW index version {version}"));
    }
    let code = r.u32()?;
    let elem = match code >> 8 {
        0 => Element::F32,
        1 => Element::F16,
        2 => Element::U8,
        e => return Err(format!("unknown element type {e}")),
    };
    let distance = match code & 0xff {
        0 => Distance::Cosine,
        1 => Distance::Euclid,
        2 => Distance::Dot,
        3 => Distance::Manhattan,
        d => return Err(format!("unknown distance code {d}")),
    };
    let dim = r.usize()?;
    let n = r.usize()?;
    let m = r.usize()?;
    let cap0 = r.usize()?;
    let cap_up = r.usize()?;
    let ef_construct = r.usize()?;
    let entry = r.u32()?;
    let max_level = r.usize()?;
    let bad = |what: &str| Err::<HnswIndex, String>(format!("corrupt HNSW index: {what}"));
    if m < 2 || cap0 < m || cap_up < 1 || cap0 > 1 << 16 || cap_up > 1 << 16 || dim > 1 << 24 {
        return bad("parameters");
    }
    if n >= 1 << 31 || (dim == 0 && n > 0) {
        return bad("size");
    }
    let levels = r.bytes(n)?.to_vec();
    r.bytes(n.next_multiple_of(4) - n)?;
    if levels.iter().any(|&l| l > 64) {
        return bad("levels");
    }
    let lay = Layout::typed(dim, elem, cap0, cap_up);
    let vwords = stored_words(dim, elem);
    // Check the rough size before allocating by it.
    let need = n
        .checked_mul(cap0 + vwords)
        .and_then(|w| w.checked_mul(4))
        .ok_or_else(|| "corrupt HNSW index: size".to_string())?;
    if need > body.len() {
        return Err("truncated HNSW index".into());
    }
    let upper_words: usize = levels.iter().map(|&l| l as usize * cap_up).sum();
    if upper_words.saturating_mul(4) > body.len() {
        return Err("truncated HNSW index".into());
    }
    let mut g = Graph::new(lay, &[], levels);
    if g.n != n {
        return bad("size");
    }
    let upper_len = r.usize()?;
    if upper_len != g.upper.len() {
        return bad("upper-layer size");
    }
    g.upper = r.u32s(upper_len)?;
    if version == 1 {
        let layer0 = r.u32s(n * cap0)?;
        let vectors = r.u32s(n * vwords)?;
        let words = as_words_mut(&mut g.blocks);
        for i in 0..n {
            let bl = &mut words[i * lay.stride..(i + 1) * lay.stride];
            bl[..cap0].copy_from_slice(&layer0[i * cap0..(i + 1) * cap0]);
            bl[lay.link_words..lay.link_words + vwords]
                .copy_from_slice(&vectors[i * vwords..(i + 1) * vwords]);
            bl[lay.link_words + vwords..].fill(0);
        }
    } else {
        r.bytes(r.pos.next_multiple_of(ALIGN) - r.pos)?;
        let lines = lay.lines(n);
        let start = r.pos;
        let region = r.bytes(lines * ALIGN)?;
        let in_place = shared
            .filter(|_| cfg!(target_endian = "little"))
            .and_then(|bytes| Blocks::shared(bytes, start, lines));
        match in_place {
            Some(blocks) => g.blocks = blocks,
            None => {
                let words = as_words_mut(&mut g.blocks);
                for (w, c) in words.iter_mut().zip(region.chunks_exact(4)) {
                    *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
        }
    }
    {
        let words = as_words(&g.blocks);
        for i in 0..n {
            if words[i * lay.stride..i * lay.stride + cap0]
                .iter()
                .any(|&x| x != NONE && x as usize >= n)
            {
                return bad("layer-0 link out of range");
            }
        }
    }
    for i in 0..n {
        for l in 1..=g.levels[i] as usize {
            if g.links_up(i, l)
                .iter()
                .any(|&x| x as usize >= n || (g.levels[x as usize] as usize) < l)
            {
                return bad("upper-layer link");
            }
        }
    }
    if n == 0 {
        if entry != NONE {
            return bad("entry point");
        }
    } else if entry as usize >= n || g.levels[entry as usize] as usize != max_level {
        return bad("entry point");
    }
    if g.levels.iter().any(|&l| l as usize > max_level) {
        return bad("levels");
    }
    g.entry = entry;
    g.max_level = max_level;
    let off_len = r.usize()?;
    if off_len != 0 && off_len != n + 1 {
        return bad("group offsets");
    }
    let group_off = r.u32s(off_len)?;
    let links_len = r.usize()?;
    let group_links = r.u32s(links_len)?;
    if off_len > 0
        && (group_off[0] != 0
            || group_off.windows(2).any(|w| w[0] > w[1])
            || group_off[n] as usize != links_len)
    {
        return bad("group offsets");
    }
    if off_len == 0 && links_len != 0 {
        return bad("group links");
    }
    if group_links.iter().any(|&x| x as usize >= n) {
        return bad("group link out of range");
    }
    if r.pos != body.len() {
        return bad("trailing bytes");
    }
    Ok(HnswIndex {
        distance,
        m,
        ef_construct,
        graph: g,
        group_off,
        group_links,
    })
}
