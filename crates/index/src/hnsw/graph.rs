//! The graph's memory layout, and the per-thread scratch a search reuses.
//!
//! # Layout
//!
//! Layer 0 (where every node lives and a search spends nearly all its time) is one allocation of
//! fixed-size *blocks*, one per node, 64-byte aligned, as hnswlib does it:
//!
//! ```text
//! block i: [ layer-0 links: cap0 × u32, unused slots = NONE, padded to 64 bytes ]
//!          [ vector: dim × f32, zero-padded to a multiple of 16 floats (64 bytes) ]
//! ```
//!
//! So a hop reads one contiguous region: the node's links and, right after them, its vector.
//! With `m = 16` (cap0 = 32) and `dim = 128` a block is 128 + 512 = 640 bytes. A link list has no
//! count: it ends at the first `NONE` (or at `cap0`).
//!
//! Upper layers (about one node in `m`) are stored apart: node `i` with level `L >= 1` owns
//! `L * cap_up` consecutive words of `upper` starting at `upper_off[i]` (layer `l` at
//! `(l - 1) * cap_up`), again `NONE`-terminated. Levels are drawn before the build, so this
//! storage is allocated once and never moves while threads write into it.

use std::cmp::Ordering;

/// An empty link slot.
pub(crate) const NONE: u32 = u32::MAX;

/// One cache line: the unit of the block allocation (gives 64-byte alignment).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line(pub(crate) [u32; 16]);

pub(crate) const LINE_WORDS: usize = 16;

/// How a graph stores each node's vector next to its links: f32 (the default), IEEE half
/// floats or unsigned bytes (a float16 or uint8 vector space, whose values are exactly
/// representable so). Searches compare an f32 query with the stored values converted on the
/// fly (`kernels.rs`); the region is a half or a quarter of the f32 one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Element {
    #[default]
    F32,
    F16,
    U8,
}

impl Element {
    /// Bytes per value.
    pub fn width(self) -> usize {
        match self {
            Element::F32 => 4,
            Element::F16 => 2,
            Element::U8 => 1,
        }
    }

    /// `v` as this type stores it, read back (the identity for values it holds exactly).
    pub fn cast(self, v: f32) -> f32 {
        match self {
            Element::F32 => v,
            Element::F16 => half::f16::from_f32(v).to_f32(),
            Element::U8 => f32::from(v as u8),
        }
    }
}

/// Sizes inside a node block, in 4-byte words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The vectors' dimension.
    pub(crate) dim: usize,
    /// `dim` rounded up to a multiple of 16: what the kernels read (f32 lanes of a query).
    pub(crate) words: usize,
    /// How the vectors are stored.
    pub(crate) elem: Element,
    /// Words of a node's vector region: `words` values of `elem`, whole 64-byte lines.
    pub(crate) vec_words: usize,
    /// Layer-0 link capacity.
    pub(crate) cap0: usize,
    /// Link capacity on the upper layers.
    pub(crate) cap_up: usize,
    /// `cap0` rounded up to a multiple of 16: where the vector starts.
    pub(crate) link_words: usize,
    /// Words per block.
    pub(crate) stride: usize,
}

impl Layout {
    /// The layout of vectors stored as `elem`.
    pub(crate) fn typed(dim: usize, elem: Element, cap0: usize, cap_up: usize) -> Layout {
        let words = dim.div_ceil(LINE_WORDS).max(1) * LINE_WORDS;
        let vec_words = (words * elem.width() / 4).div_ceil(LINE_WORDS) * LINE_WORDS;
        let base = Layout::with_words(dim, words, cap0, cap_up);
        Layout {
            elem,
            vec_words,
            stride: base.link_words + vec_words,
            ..base
        }
    }

    fn with_words(dim: usize, words: usize, cap0: usize, cap_up: usize) -> Layout {
        let link_words = cap0.div_ceil(LINE_WORDS).max(1) * LINE_WORDS;
        Layout {
            dim,
            words,
            elem: Element::F32,
            vec_words: words,
            cap0,
            cap_up,
            link_words,
            stride: link_words + words,
        }
    }

    /// The layout of a graph walked on codes (see `sq.rs`): `bytes` code bytes, and `tail`
    /// bytes at the end of the vector region (a correction term), which is a whole number of
    /// lines. `dim` is the code's byte count; `elem` is F32 and `vec_words` is `words` there.
    pub(crate) fn for_codes(bytes: usize, tail: usize, cap0: usize, cap_up: usize) -> Layout {
        let words = (bytes + tail).div_ceil(4 * LINE_WORDS).max(1) * LINE_WORDS;
        Layout::with_words(bytes, words, cap0, cap_up)
    }

    pub(crate) fn lines(&self, n: usize) -> usize {
        n * self.stride / LINE_WORDS
    }
}

/// Bytes that outlive a graph viewing them: a mapped file (or a buffer standing in for one).
pub type SharedBytes = std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A graph's blocks: its own (built here, or copied out of a file), or a region of a mapped
/// graph file (`on_disk`: the pages are the file's, read in by the kernel as searches touch
/// them, never anonymous memory). Reads see a `[Line]` either way; writing to shared blocks
/// first copies them (only a build writes, and builds start from their own blocks).
#[derive(Clone)]
pub(crate) enum Blocks {
    Owned(Vec<Line>),
    Shared {
        bytes: SharedBytes,
        /// Byte offset of the first line in `bytes` (its address is 64-byte aligned).
        start: usize,
        lines: usize,
    },
}

impl Blocks {
    /// Heap bytes (0 for shared blocks).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Blocks::Owned(v) => v.capacity() * size_of::<Line>(),
            Blocks::Shared { .. } => 0,
        }
    }

    /// Bytes viewed in shared (mapped) storage.
    pub(crate) fn shared_bytes(&self) -> usize {
        match self {
            Blocks::Owned(_) => 0,
            Blocks::Shared { lines, .. } => lines * size_of::<Line>(),
        }
    }

    /// `lines` lines at byte `start` of `bytes`, when that address is 64-byte aligned and
    /// in range.
    pub(crate) fn shared(bytes: SharedBytes, start: usize, lines: usize) -> Option<Blocks> {
        let b: &[u8] = (*bytes).as_ref();
        let end = lines.checked_mul(size_of::<Line>())?.checked_add(start)?;
        if end > b.len() || !(b.as_ptr() as usize + start).is_multiple_of(align_of::<Line>()) {
            return None;
        }
        Some(Blocks::Shared {
            bytes,
            start,
            lines,
        })
    }
}

impl From<Vec<Line>> for Blocks {
    fn from(v: Vec<Line>) -> Self {
        Blocks::Owned(v)
    }
}

impl std::ops::Deref for Blocks {
    type Target = [Line];

    fn deref(&self) -> &[Line] {
        match self {
            Blocks::Owned(v) => v,
            Blocks::Shared {
                bytes,
                start,
                lines,
            } => {
                let b: &[u8] = (**bytes).as_ref();
                // SAFETY: `Blocks::shared` checked that `lines` whole lines lie within `b` from
                // `start`, at a 64-byte aligned address; `Line` is plain data (any bit
                // pattern is valid) and `bytes` is immutable and kept alive by the Arc.
                unsafe { std::slice::from_raw_parts(b.as_ptr().add(*start) as *const Line, *lines) }
            }
        }
    }
}

impl std::ops::DerefMut for Blocks {
    fn deref_mut(&mut self) -> &mut [Line] {
        if let Blocks::Shared { .. } = self {
            *self = Blocks::Owned(self.to_vec());
        }
        match self {
            Blocks::Owned(v) => v,
            Blocks::Shared { .. } => unreachable!("made owned above"),
        }
    }
}

impl PartialEq for Blocks {
    fn eq(&self, other: &Blocks) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocks::Owned(v) => write!(f, "Blocks::Owned({} lines)", v.len()),
            Blocks::Shared { lines, .. } => write!(f, "Blocks::Shared({lines} lines)"),
        }
    }
}

/// The graph's arrays. Owned by the index; a build writes them through [`Store`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Graph {
    pub(crate) lay: Layout,
    pub(crate) n: usize,
    pub(crate) blocks: Blocks,
    pub(crate) levels: Vec<u8>,
    /// Start of each node's upper-layer links in `upper`, `NONE` for level-0 nodes.
    pub(crate) upper_off: Vec<u32>,
    pub(crate) upper: Vec<u32>,
    /// Entry point (`NONE` when empty) and its level.
    pub(crate) entry: u32,
    pub(crate) max_level: usize,
}

impl Graph {
    /// A graph with `n` unlinked nodes holding `vectors` (`n * dim` values) and the given levels.
    pub(crate) fn new(lay: Layout, vectors: &[f32], levels: Vec<u8>) -> Graph {
        let n = levels.len();
        let mut blocks = vec![Line([NONE; 16]); lay.lines(n)];
        {
            let words = as_words_mut(&mut blocks);
            for (i, row) in vectors.chunks_exact(lay.dim.max(1)).take(n).enumerate() {
                let block = &mut words[i * lay.stride..(i + 1) * lay.stride];
                let v = &mut block[lay.link_words..];
                v.fill(0);
                encode_row(lay.elem, row, v);
            }
            if lay.dim == 0 {
                for i in 0..n {
                    words[i * lay.stride + lay.link_words..(i + 1) * lay.stride].fill(0);
                }
            }
        }
        let mut upper_off = vec![NONE; n];
        let mut total = 0usize;
        for (i, &l) in levels.iter().enumerate() {
            if l > 0 {
                upper_off[i] = u32::try_from(total).expect("upper-layer links exceed 2^32 words");
                total += l as usize * lay.cap_up;
            }
        }
        Graph {
            lay,
            n,
            blocks: blocks.into(),
            levels,
            upper_off,
            upper: vec![NONE; total],
            entry: NONE,
            max_level: 0,
        }
    }

    /// `prefix`'s nodes (vectors, links, entry point) followed by unlinked nodes holding
    /// `more` (`levels.len() * dim` values) at the given levels: the start of an extension.
    pub(crate) fn extended(prefix: &Graph, more: &[f32], levels: &[u8]) -> Graph {
        let lay = prefix.lay;
        let tail = Graph::new(lay, more, levels.to_vec());
        let base = u32::try_from(prefix.upper.len()).expect("upper-layer links exceed 2^32 words");
        let mut blocks = Vec::with_capacity(prefix.blocks.len() + tail.blocks.len());
        blocks.extend_from_slice(&prefix.blocks);
        blocks.extend_from_slice(&tail.blocks);
        let mut upper = Vec::with_capacity(prefix.upper.len() + tail.upper.len());
        upper.extend_from_slice(&prefix.upper);
        upper.extend_from_slice(&tail.upper);
        let mut all_levels = prefix.levels.clone();
        all_levels.extend_from_slice(levels);
        let mut upper_off = prefix.upper_off.clone();
        upper_off.extend(
            tail.upper_off
                .iter()
                .map(|&o| if o == NONE { NONE } else { o + base }),
        );
        Graph {
            lay,
            n: prefix.n + tail.n,
            blocks: blocks.into(),
            levels: all_levels,
            upper_off,
            upper,
            entry: prefix.entry,
            max_level: prefix.max_level,
        }
    }

    /// A read/write view for building; see [`Store`].
    pub(crate) fn store(&mut self) -> Store {
        Store {
            lay: self.lay,
            blocks: std::ops::DerefMut::deref_mut(&mut self.blocks).as_mut_ptr() as *mut u32,
            upper: self.upper.as_mut_ptr(),
            upper_off: self.upper_off.as_ptr(),
        }
    }

    /// A read-only view for searching.
    pub(crate) fn view(&self) -> Store {
        Store {
            lay: self.lay,
            blocks: self.blocks.as_ptr() as *mut u32,
            upper: self.upper.as_ptr() as *mut u32,
            upper_off: self.upper_off.as_ptr(),
        }
    }

    /// Layer-0 links of `i` (without the empty slots).
    pub(crate) fn links0(&self, i: usize) -> &[u32] {
        let w = as_words(&self.blocks);
        let s = &w[i * self.lay.stride..i * self.lay.stride + self.lay.cap0];
        &s[..s.iter().position(|&x| x == NONE).unwrap_or(s.len())]
    }

    /// Links of `i` on layer `level >= 1` (without the empty slots).
    pub(crate) fn links_up(&self, i: usize, level: usize) -> &[u32] {
        let off = self.upper_off[i] as usize + (level - 1) * self.lay.cap_up;
        let s = &self.upper[off..off + self.lay.cap_up];
        &s[..s.iter().position(|&x| x == NONE).unwrap_or(s.len())]
    }

    /// The stored vector region of `i` (`vec_words` words).
    pub(crate) fn region(&self, i: usize) -> &[u32] {
        let start = i * self.lay.stride + self.lay.link_words;
        &as_words(&self.blocks)[start..start + self.lay.vec_words]
    }

    /// The stored (unpadded) vector of `i`, as f32.
    pub(crate) fn vector(&self, i: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.lay.dim];
        decode_row(self.lay.elem, self.region(i), &mut out);
        out
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks.heap_bytes()
            + self.levels.capacity()
            + self.upper_off.capacity() * 4
            + self.upper.capacity() * 4
    }
}

/// Writes `row` into a zeroed vector region as `elem`.
pub(crate) fn encode_row(elem: Element, row: &[f32], region: &mut [u32]) {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(region);
    match elem {
        Element::F32 => {
            for (d, s) in bytes.chunks_exact_mut(4).zip(row) {
                d.copy_from_slice(&s.to_le_bytes());
            }
        }
        Element::F16 => {
            for (d, s) in bytes.chunks_exact_mut(2).zip(row) {
                d.copy_from_slice(&half::f16::from_f32(*s).to_le_bytes());
            }
        }
        Element::U8 => {
            for (d, s) in bytes.iter_mut().zip(row) {
                *d = *s as u8;
            }
        }
    }
}

/// Reads `out.len()` values of a vector region stored as `elem`.
pub(crate) fn decode_row(elem: Element, region: &[u32], out: &mut [f32]) {
    let bytes: &[u8] = bytemuck::cast_slice(region);
    match elem {
        Element::F32 => {
            for (o, s) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        Element::F16 => {
            for (o, s) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = half::f16::from_le_bytes([s[0], s[1]]).to_f32();
            }
        }
        Element::U8 => {
            for (o, &s) in out.iter_mut().zip(bytes) {
                *o = f32::from(s);
            }
        }
    }
}

pub(crate) fn as_words(lines: &[Line]) -> &[u32] {
    // SAFETY: `Line` is `repr(C)` over `[u32; 16]` with no padding (64 bytes, align 64).
    unsafe { std::slice::from_raw_parts(lines.as_ptr() as *const u32, lines.len() * LINE_WORDS) }
}

pub(crate) fn as_words_mut(lines: &mut [Line]) -> &mut [u32] {
    // SAFETY: as in `as_words`.
    unsafe {
        std::slice::from_raw_parts_mut(lines.as_mut_ptr() as *mut u32, lines.len() * LINE_WORDS)
    }
}

/// Raw pointers into a [`Graph`]'s arrays.
///
/// Searching reads through it with no locks (the graph is immutable then). Building shares it
/// between threads: vectors are written before it is shared and only read after; every read or
/// write of a node's link list happens while holding that node's lock (see `build.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Store {
    pub(crate) lay: Layout,
    blocks: *mut u32,
    upper: *mut u32,
    upper_off: *const u32,
}

// SAFETY: see the type's documentation: the pointers are only dereferenced under the locking
// discipline of the build, or read-only after it.
unsafe impl Send for Store {}
// SAFETY: as above.
unsafe impl Sync for Store {}

impl Store {
    /// The padded vector of node `i` (`lay.words` floats, 64-byte aligned).
    ///
    /// # Safety
    /// `i < n`.
    #[inline(always)]
    pub(crate) unsafe fn vec(&self, i: u32) -> *const f32 {
        // SAFETY: in bounds for i < n.
        unsafe {
            self.blocks
                .add(i as usize * self.lay.stride + self.lay.link_words) as *const f32
        }
    }

    /// The link slots of node `i` on `level` (`cap0` or `cap_up` words).
    ///
    /// # Safety
    /// `i < n`, `level <= level(i)`.
    #[inline(always)]
    pub(crate) unsafe fn links(&self, i: u32, level: usize) -> *mut u32 {
        // SAFETY: in bounds under the contract.
        unsafe {
            if level == 0 {
                self.blocks.add(i as usize * self.lay.stride)
            } else {
                let off = *self.upper_off.add(i as usize) as usize;
                self.upper.add(off + (level - 1) * self.lay.cap_up)
            }
        }
    }

    #[inline(always)]
    pub(crate) fn cap(&self, level: usize) -> usize {
        if level == 0 {
            self.lay.cap0
        } else {
            self.lay.cap_up
        }
    }
}

/// A set of node ids: a bitset (n/8 bytes, so it stays in L1/L2) that remembers which words it
/// dirtied, so clearing costs what the last use touched, not n.
#[derive(Debug, Default)]
pub(crate) struct Visited {
    bits: Vec<u64>,
    dirty: Vec<u32>,
}

impl Visited {
    /// Empties the set and makes room for ids below `n`.
    pub(crate) fn reset(&mut self, n: usize) {
        let w = n.div_ceil(64);
        if self.dirty.len() * 8 < w.min(self.bits.len()) {
            for &i in &self.dirty {
                self.bits[i as usize] = 0;
            }
        } else {
            self.bits.fill(0);
        }
        self.dirty.clear();
        if self.bits.len() < w {
            self.bits.resize(w, 0);
        }
    }

    /// Adds `i`; `true` if it was not there.
    #[inline(always)]
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        let w = &mut self.bits[(i >> 6) as usize];
        let m = 1u64 << (i & 63);
        let old = *w;
        if old & m != 0 {
            return false;
        }
        if old == 0 {
            self.dirty.push(i >> 6);
        }
        *w = old | m;
        true
    }

    #[inline(always)]
    pub(crate) fn contains(&self, i: u32) -> bool {
        self.bits[(i >> 6) as usize] & (1u64 << (i & 63)) != 0
    }
}

/// The top bit of an id in a [`Beam`] marks it as expanded. Ids stay below 2^31.
pub(crate) const EXPANDED: u32 = 1 << 31;

/// A candidate: distance (lower is better) and node id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cand {
    pub(crate) d: f32,
    pub(crate) id: u32,
}

impl Cand {
    /// Closer first, then lower id.
    #[inline(always)]
    pub(crate) fn order(a: &Cand, b: &Cand) -> Ordering {
        a.d.total_cmp(&b.d)
            .then((a.id & !EXPANDED).cmp(&(b.id & !EXPANDED)))
    }
}

/// The search beam: the best `cap` candidates found so far, sorted closest first, each marked
/// expanded or not. Expanding always takes the closest unexpanded one, and the search ends when
/// all are expanded — the same order and stopping rule as hnswlib's pair of heaps (a candidate
/// that falls out of the best `cap` would never be expanded there either), in one array.
#[derive(Debug, Default)]
pub(crate) struct Beam {
    pub(crate) items: Vec<Cand>,
    cap: usize,
    cursor: usize,
}

impl Beam {
    pub(crate) fn reset(&mut self, cap: usize) {
        self.items.clear();
        if self.items.capacity() < cap + 1 {
            self.items.reserve(cap + 1);
        }
        self.cap = cap.max(1);
        self.cursor = 0;
    }

    /// Whether a candidate at distance `d` would enter.
    #[inline(always)]
    pub(crate) fn admits(&self, d: f32) -> bool {
        self.items.len() < self.cap || d < self.items[self.items.len() - 1].d
    }

    /// Inserts (after [`Beam::admits`] said yes), dropping the farthest if full.
    #[inline(always)]
    pub(crate) fn insert(&mut self, d: f32, id: u32) {
        let c = Cand { d, id };
        let pos = self
            .items
            .partition_point(|x| Cand::order(x, &c) == Ordering::Less);
        if self.items.len() == self.cap {
            self.items.pop();
        }
        self.items.insert(pos, c);
        if pos < self.cursor {
            self.cursor = pos;
        }
    }

    /// The closest unexpanded candidate, now marked expanded.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Option<u32> {
        while self.cursor < self.items.len() {
            let c = &mut self.items[self.cursor];
            self.cursor += 1;
            if c.id & EXPANDED == 0 {
                let id = c.id;
                c.id |= EXPANDED;
                return Some(id);
            }
        }
        None
    }

    /// The candidates, closest first, with plain ids.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Cand> + '_ {
        self.items.iter().map(|c| Cand {
            d: c.d,
            id: c.id & !EXPANDED,
        })
    }
}

/// Per-thread scratch for searching and building; reused so that the hot path allocates
/// nothing once warm.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub(crate) visited: Visited,
    /// Accepted ids among the visited (filtered search).
    pub(crate) ok: Visited,
    pub(crate) beam: Beam,
    /// Query copied into the padded, aligned shape the kernels expect (during a build of a
    /// graph storing float16 or uint8 vectors: the inserted node's vector, converted).
    pub(crate) query: Vec<Line>,
    /// Stored vectors converted to f32 for comparisons between stored vectors (builds of
    /// float16 / uint8 graphs): the node whose list is pruned, and a candidate.
    pub(crate) node_vec: Vec<Line>,
    pub(crate) cand_vec: Vec<Line>,
    /// Unvisited neighbours to score.
    pub(crate) todo: Vec<u32>,
    /// Rejected neighbours (filtered search).
    pub(crate) rejected: Vec<u32>,
    /// A copy of a link list (build).
    pub(crate) links: Vec<u32>,
    /// Candidates and selection of the neighbour heuristic (build).
    pub(crate) cands: Vec<Cand>,
    pub(crate) picked: Vec<Cand>,
    pub(crate) prune: Vec<Cand>,
    /// Heaps of the filtered search's first phase.
    pub(crate) frontier: std::collections::BinaryHeap<std::cmp::Reverse<HeapCand>>,
    pub(crate) found: std::collections::BinaryHeap<HeapCand>,
}

/// [`Cand`] with a total order, for `BinaryHeap`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HeapCand(pub(crate) Cand);
impl Eq for HeapCand {}
impl PartialOrd for HeapCand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapCand {
    fn cmp(&self, other: &Self) -> Ordering {
        Cand::order(&self.0, &other.0)
    }
}

impl Ctx {
    /// Copies `q` into the padded query buffer and returns its pointer.
    pub(crate) fn load_query(&mut self, q: &[f32], lay: &Layout) -> *const f32 {
        let lines = lay.words / LINE_WORDS;
        self.query.clear();
        self.query.resize(lines, Line([0; 16]));
        let w = as_words_mut(&mut self.query);
        for (d, s) in w.iter_mut().zip(q) {
            *d = s.to_bits();
        }
        self.query.as_ptr() as *const f32
    }

    /// Copies query codes into the query buffer, zero-padded to whole vector regions (one, or
    /// several for bit planes), with one more line after them holding `consts`; returns its
    /// pointer.
    pub(crate) fn load_codes(
        &mut self,
        codes: &[u8],
        consts: [f32; 4],
        lay: &Layout,
    ) -> *const f32 {
        let region_lines = lay.words / LINE_WORDS;
        let lines = codes
            .len()
            .div_ceil(4 * LINE_WORDS)
            .div_ceil(region_lines.max(1))
            .max(1)
            * region_lines;
        self.query.clear();
        self.query.resize(lines + 1, Line([0; 16]));
        let w = as_words_mut(&mut self.query);
        // SAFETY: the words are plain memory; `codes` fits the regions and leaves a scalar
        // code's correction slot zero (`Layout::for_codes`)
        let bytes: &mut [u8] = unsafe {
            std::slice::from_raw_parts_mut(w.as_mut_ptr() as *mut u8, lines * LINE_WORDS * 4)
        };
        bytes[..codes.len()].copy_from_slice(codes);
        for (d, c) in w[lines * LINE_WORDS..].iter_mut().zip(consts) {
            *d = c.to_bits();
        }
        self.query.as_ptr() as *const f32
    }
}

thread_local! {
    static CTX: std::cell::RefCell<Ctx> = std::cell::RefCell::new(Ctx::default());
}

/// Runs `f` with this thread's scratch (a fresh one if it is already in use, e.g. when a filter
/// predicate itself searches).
pub(crate) fn with_ctx<R>(f: impl FnOnce(&mut Ctx) -> R) -> R {
    let mut f = Some(f);
    let r = CTX.with(|c| {
        c.try_borrow_mut()
            .ok()
            .map(|mut ctx| (f.take().expect("called once"))(&mut ctx))
    });
    match r {
        Some(r) => r,
        None => (f.take().expect("called once"))(&mut Ctx::default()),
    }
}
