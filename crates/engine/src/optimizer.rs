//! The optimizer: seals the appendable segment once it outgrows `indexing_threshold` (KB of
//! vectors, Qdrant's unit; 0 disables indexing), builds each sealed segment's HNSW indexes,
//! folds small segments into a large indexed one, vacuums sealed segments with many tombstones,
//! and merges sealed segments when there are more than `default_segment_number` (8 when 0).
//! Index builds run without any collection lock held; only the swap of finished work takes the
//! locks, briefly, so searches and writes never wait for a build. It runs on one background
//! thread per collection (beside a log-sync thread), makes the status yellow while work is due,
//! and holds back writers while the points outside any graph pile up (`wait_for_indexing`).
//!
//! # Folding
//!
//! One graph over all points answers a search faster than several graphs over parts of them,
//! and far faster than an exact scan of the unindexed rest: on 100k × 128 points (ef 64) one
//! graph served 1.4× the searches per second of two graphs plus a 12k-point appendable rest,
//! with better recall. So a sealed segment is *folded* into the largest indexed one: its rows
//! are inserted into that segment's graph ([`HnswIndex::extend`]), which costs the insertion of
//! the new rows only, not a rebuild. Folding happens while the result stays within
//! `max_segment_size` (Qdrant's default: 200,000 KB of vectors per CPU), and when
//! `default_segment_number` is set, only while there are more segments than that. When writes
//! have paused for [`IDLE_FOLD_AFTER`], an appendable rest of at least a twentieth of the
//! indexing threshold is sealed and folded too, so a collection that stops growing ends up
//! fully indexed instead of scanning its last rows forever. A segment cannot be extended when
//! it has tombstones (its rows are kept as they are) or when payload indexes give the graph
//! extra links per value (those of the new rows would be missing); such segments are merged by
//! a rebuild, as before.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rvdb_filter::{JsonPath, PayloadSchemaType};
use rvdb_index::{HnswIndex, HnswParams, QuantizedHnsw};

use crate::persist;
use crate::quantization::{QuantizationConfig, Quantized};
use crate::segment::Segment;
use crate::segments::{Graphs, Sealed, Segments};
use crate::settings::OptimizersConfig;
use crate::Collection;

const DEFAULT_MAX_SEGMENTS: usize = 8;
/// How long writes must have paused before the appendable rest is folded into the graph.
pub(crate) const IDLE_FOLD_AFTER: Duration = Duration::from_secs(1);
/// Writes adding points may always leave this many points outside any graph; see
/// `backlog_limit`.
const MIN_BACKLOG_LIMIT: usize = 2_000;
/// The optimizer thread's nice value (see `favour_this_thread`).
#[cfg(target_os = "linux")]
const OPTIMIZER_NICE: libc::c_int = -10;
/// The longest a write waits for indexing to catch up.
const MAX_BACKLOG_WAIT: Duration = Duration::from_secs(30);
/// Smallest group of points (one payload value) that gets its own extra graph links.
const MIN_GROUP_FOR_LINKS: usize = 16;
/// How often the log of a collection is fsynced when writes were answered before their fsync.
const LOG_SYNC_INTERVAL: Duration = Duration::from_millis(10);

impl Collection {
    fn optimizers(&self) -> OptimizersConfig {
        self.config.read().config.settings.optimizers.clone()
    }

    /// Bytes of vectors per point (all spaces whose dimension is known, in their element type;
    /// a multivector counted as one row).
    fn bytes_per_point(&self, segs: &Segments) -> u64 {
        let config = self.config.read();
        config
            .config
            .vectors
            .spaces()
            .iter()
            .map(|(n, p)| segs.dim(n).or(p.size).unwrap_or(0) as u64 * p.datatype().width() as u64)
            .sum::<u64>()
            .max(4)
    }

    pub(crate) fn seal_threshold_points(&self, segs: &Segments) -> Option<usize> {
        let kb = self.optimizers().indexing_threshold_kb() as u64;
        if kb == 0 {
            return None;
        }
        Some(((kb * 1024) / self.bytes_per_point(segs)).max(1) as usize)
    }

    /// `default_segment_number` when set (not 0).
    fn target_segments(&self) -> Option<usize> {
        self.optimizers().target_segments()
    }

    pub(crate) fn max_segments(&self) -> usize {
        self.target_segments().unwrap_or(DEFAULT_MAX_SEGMENTS)
    }

    /// The most points a segment made by folding or merging may hold (`max_segment_size`).
    pub(crate) fn max_segment_points(&self, segs: &Segments) -> usize {
        let kb = self.optimizers().max_segment_kb() as u64;
        ((kb.saturating_mul(1024)) / self.bytes_per_point(segs)).max(1) as usize
    }

    /// Whether some payload index gives graphs extra links per value (see `payload_groups`):
    /// a graph built with them cannot be extended.
    fn has_group_fields(&self) -> bool {
        self.config.read().payload_schema.values().any(|kind| {
            matches!(
                kind,
                PayloadSchemaType::Keyword
                    | PayloadSchemaType::Integer
                    | PayloadSchemaType::Uuid
                    | PayloadSchemaType::Bool
            )
        })
    }

    /// A sealed segment whose graphs new rows can be inserted into: indexed, no tombstones,
    /// no group links.
    fn extendable(s: &Sealed) -> bool {
        s.deleted_count() == 0
            && s.hnsw
                .get()
                .is_some_and(|m| m.values().all(|h| !h.has_group_links()))
    }

    /// The segment to fold into and the one to fold, if folding is due: the largest
    /// extendable segment that the smallest other one fits into within `max_segment_size`,
    /// and that one (an indexed segment larger than the target is not re-inserted).
    pub(crate) fn fold_pair(&self, segs: &Segments) -> Option<(Arc<Sealed>, Arc<Sealed>)> {
        if segs.sealed.len() < 2
            || self
                .target_segments()
                .is_some_and(|n| segs.sealed.len() <= n)
            || self.has_group_fields()
        {
            return None;
        }
        let cap = self.max_segment_points(segs);
        let mut bigs: Vec<&Arc<Sealed>> =
            segs.sealed.iter().filter(|s| Self::extendable(s)).collect();
        bigs.sort_by_key(|s| std::cmp::Reverse(s.live()));
        bigs.into_iter().find_map(|big| {
            let small = segs
                .sealed
                .iter()
                .filter(|s| !Arc::ptr_eq(s, big))
                .min_by_key(|s| s.live())?;
            let fits = big.live() + small.live() <= cap;
            let worth = !small.is_indexed() || small.live() <= big.live();
            (fits && worth).then(|| (big.clone(), small.clone()))
        })
    }

    /// Whether writes have paused for [`IDLE_FOLD_AFTER`] (a write in progress or a new
    /// sequence number since the last look restarts the clock).
    fn writes_idle(&self) -> bool {
        let seq = self.writer.try_lock().map(|w| w.last_seq);
        let mut probe = self.idle_probe.lock();
        match seq {
            Some(seq) if seq == probe.0 => probe.1.elapsed() >= IDLE_FOLD_AFTER,
            _ => {
                *probe = (seq.unwrap_or(u64::MAX), std::time::Instant::now());
                false
            }
        }
    }

    /// When the appendable rest (below the indexing threshold, at least a twentieth of it) can
    /// be sealed and folded into an indexed segment: the size of the largest one with room.
    pub(crate) fn fold_target(&self, segs: &Segments) -> Option<usize> {
        let threshold = self.seal_threshold_points(segs)?;
        let rest = segs.appendable.len();
        if rest == 0 || rest < (threshold / 20).max(1) {
            return None;
        }
        self.graph_for(segs, rest)
    }

    /// The size of the largest segment `rest` more points could be folded into.
    fn graph_for(&self, segs: &Segments, rest: usize) -> Option<usize> {
        if self.has_group_fields()
            || self
                .target_segments()
                .is_some_and(|n| segs.sealed.len() < n)
        {
            return None;
        }
        let cap = self.max_segment_points(segs);
        segs.sealed
            .iter()
            .filter(|s| Self::extendable(s) && s.live() + rest <= cap)
            .map(|s| s.live())
            .max()
    }

    /// Whether the appendable rest is sealed now to be folded: when it reaches a fiftieth of
    /// the segment it goes into (a batch whose insertion outweighs copying that segment), or
    /// when writes have paused (`now`: take them as paused).
    fn fold_rest_due(&self, segs: &Segments, now: bool) -> bool {
        let (Some(big), Some(threshold)) =
            (self.fold_target(segs), self.seal_threshold_points(segs))
        else {
            return false;
        };
        now || segs.appendable.len() >= fold_batch(big, threshold) || self.writes_idle()
    }

    /// How many points may wait outside any graph before writes adding more wait: three fold
    /// batches when there is a graph to fold into (one being folded, one filling, one of
    /// slack for the pacing), else the indexing threshold; at least [`MIN_BACKLOG_LIMIT`].
    fn backlog_limit(&self, segs: &Segments) -> Option<usize> {
        let threshold = self.seal_threshold_points(segs)?;
        let limit = match self.graph_for(segs, segs.appendable.len()) {
            Some(big) => 3 * fold_batch(big, threshold),
            None => threshold,
        };
        Some(limit.max(MIN_BACKLOG_LIMIT))
    }

    /// Points not in any graph yet: the appendable rest and sealed segments not indexed yet.
    fn unindexed(segs: &Segments) -> usize {
        segs.appendable.len()
            + segs
                .sealed
                .iter()
                .filter(|s| !s.is_indexed())
                .map(|s| s.live())
                .sum::<usize>()
    }

    /// Holds a write of `points` new points while the points not in any graph yet fill
    /// `backlog_limit`: searches scan those exactly, so a backlog that writers grow faster than
    /// the optimizer can index would make every search slower and slower. Below a third of the
    /// limit a write goes at once; above it writes are admitted one after another at the
    /// pace indexing was last measured at (so they wait evenly, not all at once for a whole
    /// batch to be indexed); at the limit they wait for it to drain (at most
    /// [`MAX_BACKLOG_WAIT`] in all, then go on). Only with a background optimizer (someone
    /// must index) and indexing on.
    pub(crate) fn wait_for_indexing(&self, points: usize) {
        if !self.background.load(Ordering::Relaxed) {
            return;
        }
        let began = std::time::Instant::now();
        loop {
            let (backlog, limit) = {
                let segs = self.points.read();
                match self.backlog_limit(&segs) {
                    Some(limit) => (Self::unindexed(&segs), limit),
                    None => return,
                }
            };
            if backlog < limit / 3 {
                return;
            }
            if backlog < limit {
                let rate = self.pace.lock().0;
                if rate <= 0.0 {
                    return;
                }
                // a slot on the admission timeline, `points / rate` seconds long
                let start = {
                    let mut pace = self.pace.lock();
                    let now = std::time::Instant::now();
                    let start = pace.1.max(now);
                    pace.1 = start + Duration::from_secs_f64((points as f64 / rate).min(1.0));
                    start
                };
                let wait = start.saturating_duration_since(std::time::Instant::now());
                std::thread::sleep(wait.min(MAX_BACKLOG_WAIT.saturating_sub(began.elapsed())));
                return;
            }
            if self.stop.load(Ordering::Relaxed) || began.elapsed() >= MAX_BACKLOG_WAIT {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Records how fast the optimizer just put `points` into a graph (the pace writers are
    /// admitted at when the backlog fills up).
    fn record_pace(&self, points: usize, secs: f64) {
        if points == 0 || secs <= 0.0 {
            return;
        }
        let sample = points as f64 / secs;
        let mut pace = self.pace.lock();
        pace.0 = if pace.0 <= 0.0 {
            sample
        } else {
            0.7 * pace.0 + 0.3 * sample
        };
    }

    pub(crate) fn wants_vacuum(&self, s: &Sealed) -> bool {
        let o = self.optimizers();
        let (ratio, min) = (o.deleted_threshold, o.vacuum_min_vector_number);
        let deleted = s.deleted_count();
        deleted >= min && deleted as f64 > ratio * s.data.len() as f64
    }

    /// Whether there is optimizer work to do (the collection is then "yellow").
    pub(crate) fn needs_optimization(&self, segs: &Segments) -> bool {
        self.seal_threshold_points(segs)
            .is_some_and(|t| segs.appendable.len() >= t)
            || self.fold_pair(segs).is_some()
            || self.fold_target(segs).is_some()
            || segs.sealed.iter().any(|s| {
                !s.is_indexed() || self.wants_vacuum(s) || self.quantization_due(s).is_some()
            })
            || self.quantizing.load(Ordering::Relaxed)
            || segs.sealed.len() > self.max_segments()
    }

    /// Does one unit of optimizer work, if any is due; returns whether it did.
    pub fn optimize_step(&self) -> bool {
        self.step(false)
    }

    /// Runs the optimizer until nothing is left to do (tests, benchmarks, tools), folding the
    /// appendable rest without waiting for writes to pause.
    pub fn optimize(&self) {
        while self.step(true) {}
    }

    /// One unit of work; `now`: take writes as paused.
    fn step(&self, now: bool) -> bool {
        // one optimizer at a time per collection (the background thread and `optimize` callers)
        let _one = self.optimizer_lock.lock();
        self.optimizing.store(true, Ordering::Relaxed);
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        // codes last: they only speed searches up (which walk the originals' graph until
        // then), and a segment still being folded or merged would lose them
        let did = self.seal(now)
            || self.fold()
            || self.index_one()
            || self.vacuum_or_merge()
            || self.place_one()
            || self.quantize_one(now);
        self.optimizing.store(false, Ordering::Relaxed);
        if self.wants_flush() {
            if let Err(e) = self.flush() {
                tracing::error!(collection = %self.name(), error = %e, "flush failed; the log keeps growing");
            }
        }
        did
    }

    /// Moves a full appendable segment into the sealed list (or a smaller one when writes
    /// paused and it can be folded, see the module docs).
    fn seal(&self, now: bool) -> bool {
        let idle = {
            let segs = self.points.read();
            if self
                .seal_threshold_points(&segs)
                .is_some_and(|t| segs.appendable.len() >= t)
            {
                false
            } else if self.fold_rest_due(&segs, now) {
                true
            } else {
                return false;
            }
        };
        // the writer lock keeps the log and the segments in step while they are swapped
        let _w = self.writer.lock();
        let mut segs = self.points.write();
        if idle && segs.appendable.len() > 0 {
            self.seal_now(&mut segs);
            return true;
        }
        self.seal_if_full(&mut segs)
    }

    /// Seals the appendable segment if it has reached the indexing threshold (the caller holds
    /// the writer lock). Only the optimizer seals, when it is free: while it builds an index the
    /// appendable segment keeps growing, so a bulk load ends up in a few large segments, each
    /// indexed once, rather than in many threshold-sized ones (fewer graphs to search).
    fn seal_if_full(&self, segs: &mut Segments) -> bool {
        match self.seal_threshold_points(segs) {
            Some(t) if segs.appendable.len() >= t => {}
            _ => return false,
        }
        self.seal_now(segs);
        true
    }

    fn seal_now(&self, segs: &mut Segments) {
        let fresh = segs.appendable.empty_like();
        let full = std::mem::replace(&mut segs.appendable, fresh);
        tracing::debug!(collection = %self.name(), points = full.len(), "segment sealed");
        let id = self.next_segment_id.fetch_add(1, Ordering::Relaxed);
        segs.sealed.push(Arc::new(Sealed::new(id, full)));
        self.segments_changed.store(true, Ordering::Relaxed);
    }

    fn hnsw_params(&self, using: &str) -> HnswParams {
        let hnsw = self.hnsw_config(using);
        let m = hnsw.m;
        // 0 = automatic: all cores but one, so that writes and searches keep a core while an
        // index is built (Qdrant leaves room for them the same way)
        let threads = match hnsw.max_indexing_threads {
            0 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
            }
            n => n,
        };
        HnswParams {
            m: m.max(2),
            ef_construct: hnsw.ef_construct.max(4),
            threads,
            payload_m: hnsw.payload_m.filter(|&pm| pm > 0),
            element: self.graph_element(using),
            ..HnswParams::default()
        }
    }

    /// How a space's graph stores its vectors: in the space's datatype (float16 and uint8
    /// values are held exactly), except uint8 under Cosine, whose rows are scored scaled to
    /// unit length (f32).
    fn graph_element(&self, using: &str) -> rvdb_index::Element {
        let config = self.config.read();
        match config.config.vectors.get(using) {
            Some(p) if !p.elem().renorm => p.datatype().element(),
            _ => rvdb_index::Element::F32,
        }
    }

    /// Groups of rows sharing one value of an indexed keyword / integer / uuid / bool field:
    /// each gets extra graph links so that a filter on that value keeps the graph connected.
    fn payload_groups(&self, data: &Segment) -> Vec<Vec<u32>> {
        let schema = self.config.read().payload_schema.clone();
        let mut groups = Vec::new();
        for (field, kind) in schema {
            if !matches!(
                kind,
                PayloadSchemaType::Keyword
                    | PayloadSchemaType::Integer
                    | PayloadSchemaType::Uuid
                    | PayloadSchemaType::Bool
            ) {
                continue;
            }
            let Ok(key) = JsonPath::parse(&field) else {
                continue;
            };
            let mut by_value: HashMap<String, Vec<u32>> = HashMap::new();
            for r in 0..data.len() {
                let mut seen: Vec<String> = Vec::new();
                for v in key.values(data.payload(r), true) {
                    let k = v.to_string();
                    if !seen.contains(&k) {
                        by_value.entry(k.clone()).or_default().push(r as u32);
                        seen.push(k);
                    }
                }
            }
            groups.extend(
                by_value
                    .into_values()
                    .filter(|g| g.len() >= MIN_GROUP_FOR_LINKS && g.len() < data.len()),
            );
        }
        groups
    }

    fn build_indexes(&self, data: &Segment) -> Graphs {
        let spaces: Vec<(String, rvdb_vector::Distance)> = self
            .config
            .read()
            .config
            .vectors
            .spaces()
            .iter()
            .map(|(n, p)| (n.to_string(), p.distance))
            .collect();
        let groups = self.payload_groups(data);
        let mut out = BTreeMap::new();
        for (name, distance) in spaces {
            let Some(col) = data.column(&name) else {
                continue;
            };
            let Some(dim) = col.dim() else { continue };
            if self.hnsw_config(&name).m == 0 {
                // Qdrant's `m: 0`: no graph for this space; its searches scan
                continue;
            }
            let params = self.hnsw_params(&name);
            let rows = col.view_all();
            let index = if groups.is_empty() {
                HnswIndex::build(distance, &rows, dim, &params)
            } else {
                HnswIndex::build_with_groups(distance, &rows, dim, &params, &groups)
            };
            out.insert(name, Arc::new(index));
        }
        out
    }

    /// A vector space of an indexed segment whose codes are not those its configuration asks
    /// for (missing, built for another configuration, or no longer wanted), with what it asks.
    fn quantization_due(&self, s: &Sealed) -> Option<(String, Option<QuantizationConfig>)> {
        let graphs = s.hnsw.get()?;
        let held = s.quantized.read();
        for name in graphs.keys().chain(held.keys()) {
            let want = self
                .quantization_of(name)
                .filter(|_| graphs.contains_key(name));
            if want.as_ref() != held.get(name).map(|q| &q.config) {
                return Some((name.clone(), want));
            }
        }
        None
    }

    /// Builds (or drops) the codes of one vector space of one indexed segment whose
    /// quantization configuration changed; returns whether it did. The codes are read only by
    /// searches (which walk the originals' graph until they are in), so they are built on a
    /// thread of their own, one at a time, while the optimizer goes on sealing and indexing
    /// (training product codebooks takes seconds); `now` (the [`Collection::optimize`]
    /// callers) builds them here. A configuration changed again meanwhile is caught up with on
    /// a later step.
    fn quantize_one(&self, now: bool) -> bool {
        if self.quantizing.load(Ordering::Acquire) {
            return false;
        }
        let sealed = self.points.read().sealed.clone();
        for s in sealed {
            let Some((name, want)) = self.quantization_due(&s) else {
                continue;
            };
            let Some(config) = want else {
                s.quantized.write().remove(&name);
                return true;
            };
            let Some(graph) = s.hnsw.get().and_then(|g| g.get(&name)).cloned() else {
                continue;
            };
            let collection = self.name().to_string();
            // where the codes may already be written (a persisted segment)
            let files = self
                .dir()
                .map(std::path::Path::to_path_buf)
                .filter(|_| s.persisted.load(Ordering::Relaxed))
                .map(|dir| (dir, self.vfs.clone()));
            let build = move || {
                let started = std::time::Instant::now();
                let read = files.as_ref().and_then(|(dir, vfs)| {
                    let codes =
                        persist::read_codes(&**vfs, dir, s.id, &s.data, &name, &config, &graph)?;
                    // the file holds these codes: a flush need not write them again
                    s.codes_written.lock().insert(name.clone(), config.clone());
                    Some(codes)
                });
                let from_file = read.is_some();
                let codes = read.unwrap_or_else(|| QuantizedHnsw::new(&graph, config.codes()));
                tracing::debug!(collection, segment = s.id, space = %name, from_file,
                    points = graph.len(), secs = started.elapsed().as_secs_f64(), "quantized");
                s.quantized
                    .write()
                    .insert(name, Arc::new(Quantized { config, codes }));
            };
            if now {
                build();
                return true;
            }
            self.quantizing.store(true, Ordering::Release);
            let flag = self.quantizing.clone();
            let spawned = std::thread::Builder::new()
                .name("quantize".into())
                .spawn(move || {
                    build();
                    flag.store(false, Ordering::Release);
                    // the decoded rows and the codes' first buffers go back to the system
                    release_freed_memory(true);
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a quantization thread");
                self.quantizing.store(false, Ordering::Release);
            }
            return false;
        }
        false
    }

    /// Builds the HNSW indexes of one sealed segment that has none yet.
    fn index_one(&self) -> bool {
        let target = self
            .points
            .read()
            .sealed
            .iter()
            .find(|s| !s.is_indexed())
            .cloned();
        let Some(target) = target else { return false };
        let _tracked = self.track_optimization(
            "indexing",
            vec![crate::optimizations::sealed_info(&target)],
            target.id,
        );
        let started = std::time::Instant::now();
        let indexes = self.build_indexes(&target.data);
        // the indexed segment replaces the target (same id, rows and files), its float32
        // spaces stored in their graphs; tombstones and payload indexes are taken over at the
        // swap, under the locks every change to them holds
        let indexed = Sealed::indexed(target.id, target.data.copy_rows_backed(&indexes), indexes);
        indexed
            .persisted
            .store(target.persisted.load(Ordering::Relaxed), Ordering::Relaxed);
        let Some(target) = self.replace_sealed(&target, indexed) else {
            // replaced meanwhile (a space dropped): indexed again next time
            return true;
        };
        if let Err(e) = self.persist_segment(&target) {
            tracing::error!(collection = %self.name(), error = %e, "could not write a segment's graph files; it is rebuilt at the next start");
        }
        self.record_pace(target.live(), started.elapsed().as_secs_f64());
        tracing::debug!(collection = %self.name(), points = target.data.len(), secs = started.elapsed().as_secs_f64(), "segment indexed");
        true
    }

    /// Puts `replacement` (same id and rows) in `target`'s place, taking over its tombstones
    /// and payload indexes under the locks every change to them holds; `None` when `target` is
    /// no longer one of the segments.
    fn replace_sealed(&self, target: &Arc<Sealed>, replacement: Sealed) -> Option<Arc<Sealed>> {
        let _w = self.writer.lock();
        let mut segs = self.points.write();
        let at = segs.sealed.iter().position(|s| Arc::ptr_eq(s, target))?;
        *replacement.index.write() = target.index.read().clone();
        for r in (0..target.data.len()).filter(|&r| target.is_deleted(r)) {
            replacement.delete_row(r);
        }
        let replacement = Arc::new(replacement);
        segs.sealed[at] = replacement.clone();
        self.segments_changed.store(true, Ordering::Relaxed);
        Some(replacement)
    }

    /// The spaces of an indexed segment whose graphs are not where their `on_disk` setting
    /// puts them: on the heap though on_disk (built or folded since the start, once its files
    /// are written), or mapped though no longer on_disk.
    fn misplaced(&self, s: &Sealed) -> Vec<(String, bool)> {
        let Some(graphs) = s.hnsw.get() else {
            return Vec::new();
        };
        let written = s.persisted.load(Ordering::Relaxed)
            && s.graphs_persisted.load(Ordering::Relaxed)
            && !s.placement_failed.load(Ordering::Relaxed);
        graphs
            .iter()
            .filter_map(|(name, g)| {
                let want = self.on_disk(name);
                let mapped = g.mapped_bytes() > 0;
                (want != mapped && (!want || written) && !g.is_empty())
                    .then(|| (name.clone(), want))
            })
            .collect()
    }

    /// Moves the graphs of one segment to where their `on_disk` setting puts them: an on_disk
    /// space's graph is read back from its (written) file and searched there, its blocks the
    /// file's pages; a space no longer on_disk is copied onto the heap. The segment is
    /// replaced by one with the moved graphs (its codes carried over); returns whether it was.
    fn place_one(&self) -> bool {
        let sealed = self.points.read().sealed.clone();
        for s in sealed {
            let moves = self.misplaced(&s);
            if moves.is_empty() {
                continue;
            }
            let (Some(dir), Some(graphs)) = (self.dir(), s.hnsw.get()) else {
                continue;
            };
            let mut placed = graphs.clone();
            for (name, on_disk) in moves {
                let moved = if on_disk {
                    match persist::map_graph(&*self.vfs, dir, s.id, &s.data, &name) {
                        Ok(g) if g.len() == s.data.len() && g.mapped_bytes() > 0 => g,
                        Ok(_) => {
                            tracing::warn!(collection = %self.name(), segment = s.id, space = %name,
                                "graph file cannot be searched in place; the graph stays in memory");
                            s.placement_failed.store(true, Ordering::Relaxed);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(collection = %self.name(), segment = s.id, space = %name,
                                error = %e, "graph file cannot be mapped; the graph stays in memory");
                            s.placement_failed.store(true, Ordering::Relaxed);
                            continue;
                        }
                    }
                } else {
                    (*placed[&name]).clone().into_owned()
                };
                placed.insert(name, Arc::new(moved));
            }
            let replacement = Sealed::indexed(s.id, s.data.copy_rows_backed(&placed), placed);
            replacement.persisted.store(true, Ordering::Relaxed);
            replacement.graphs_persisted.store(
                s.graphs_persisted.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            *replacement.quantized.write() = s.quantized.read().clone();
            self.replace_sealed(&s, replacement);
            return true;
        }
        false
    }

    /// Folds a segment into the largest indexed one (see the module docs).
    fn fold(&self) -> bool {
        let Some((big, small)) = self.fold_pair(&self.points.read()) else {
            return false;
        };
        let _tracked = self.track_optimization(
            "merge",
            vec![
                crate::optimizations::sealed_info(&big),
                crate::optimizations::sealed_info(&small),
            ],
            self.next_segment_id_peek(),
        );
        let started = std::time::Instant::now();
        let points = small.live();
        self.replace_segments(vec![big, small], true);
        self.record_pace(points, started.elapsed().as_secs_f64());
        tracing::debug!(collection = %self.name(), points, secs = started.elapsed().as_secs_f64(), "segment folded into the graph");
        true
    }

    /// Rebuilds a segment with many tombstones, or merges the two smallest when there are too
    /// many segments (and the result fits `max_segment_size`).
    fn vacuum_or_merge(&self) -> bool {
        let chosen: Vec<Arc<Sealed>> = {
            let segs = self.points.read();
            if let Some(s) = segs.sealed.iter().find(|s| self.wants_vacuum(s)) {
                vec![s.clone()]
            } else if segs.sealed.len() > self.max_segments() {
                let mut by_size: Vec<Arc<Sealed>> = segs.sealed.clone();
                by_size.sort_by_key(|s| s.live());
                let two: Vec<Arc<Sealed>> = by_size.into_iter().take(2).collect();
                if two.iter().map(|s| s.live()).sum::<usize>() > self.max_segment_points(&segs) {
                    return false;
                }
                two
            } else {
                return false;
            }
        };
        let sources = chosen.len();
        let _tracked = self.track_optimization(
            if sources == 1 { "vacuum" } else { "merge" },
            chosen
                .iter()
                .map(|s| crate::optimizations::sealed_info(s))
                .collect(),
            self.next_segment_id_peek(),
        );
        self.replace_segments(chosen, false);
        tracing::debug!(collection = %self.name(), sources, "segments merged");
        true
    }

    /// Replaces `chosen` by one new sealed segment holding their live rows, indexed. With
    /// `extend`, the first one's rows come first, all of them (it had no tombstones when
    /// chosen), and its graphs are extended with the rest instead of rebuilt.
    fn replace_segments(&self, chosen: Vec<Arc<Sealed>>, extend: bool) {
        // copy the rows (remembering where each came from) without holding any lock
        let mut merged = Segment::new(
            chosen[0]
                .data
                .columns()
                .map(|(n, c)| (n, c.dim(), c.elem())),
        );
        let mut origin = Vec::new();
        for (si, s) in chosen.iter().enumerate() {
            if extend && si == 0 {
                merged = s.data.copy_rows();
                origin.extend((0..s.data.len()).map(|r| (0, r)));
                continue;
            }
            for r in 0..s.data.len() {
                if !s.is_deleted(r) {
                    merged.upsert(
                        s.data.id(r),
                        &s.data.vectors(r),
                        s.data.payload(r).clone(),
                        s.data.version(r),
                    );
                    origin.push((si, r));
                }
            }
        }
        // every point lives in one segment, so no id came twice and row i is origin[i]
        debug_assert_eq!(merged.len(), origin.len());
        for (field, kind) in self.config.read().payload_schema.clone() {
            let (index, points) = merged.payload_index_mut();
            let _ = index.create_field(&field, kind, points);
        }
        let indexes = if extend {
            self.extend_indexes(&chosen[0], &merged)
        } else {
            self.build_indexes(&merged)
        };
        let id = self.next_segment_id.fetch_add(1, Ordering::Relaxed);
        let sealed = Sealed::indexed(id, merged, indexes);
        // swap: points deleted from the sources meanwhile are deleted from the result too
        let _w = self.writer.lock();
        let mut segs = self.points.write();
        for (row, (si, r)) in origin.into_iter().enumerate() {
            if chosen[si].is_deleted(r) {
                sealed.delete_row(row);
            }
        }
        segs.sealed
            .retain(|s| !chosen.iter().any(|c| Arc::ptr_eq(c, s)));
        segs.sealed.push(Arc::new(sealed));
        self.segments_changed.store(true, Ordering::Relaxed);
    }

    /// The graphs of `merged`, whose first rows are `base`'s rows in order: `base`'s graphs
    /// extended with the rest where possible, built from scratch otherwise.
    fn extend_indexes(&self, base: &Sealed, merged: &Segment) -> Graphs {
        let old = base.hnsw.get();
        let n0 = base.data.len();
        let mut out = BTreeMap::new();
        for (name, _) in self.config.read().config.vectors.spaces() {
            let Some(col) = merged.column(name) else {
                continue;
            };
            if col.dim().is_none() {
                continue;
            }
            let params = self.hnsw_params(name);
            let grown = old
                .and_then(|m| m.get(name))
                .filter(|h| h.len() == n0)
                .and_then(|h| {
                    let mut buf = Vec::new();
                    h.extend(col.view_rows(n0..merged.len(), &mut buf), &params)
                });
            if let Some(index) = grown {
                out.insert(name.to_string(), Arc::new(index));
            }
        }
        let graphs = merged
            .columns()
            .filter(|(name, c)| c.dim().is_some() && self.hnsw_config(name).m > 0)
            .count();
        if out.len() < graphs {
            // some space could not be extended (its settings changed): build them all afresh
            return self.build_indexes(merged);
        }
        out
    }
}

/// Points sealed at once to be folded into a graph of `big` points: a fiftieth of it (so that
/// inserting them outweighs copying the segment), between a twentieth of the indexing
/// threshold and the threshold.
fn fold_batch(big: usize, threshold: usize) -> usize {
    (big / 50).clamp((threshold / 20).max(1), threshold.max(1))
}

/// Runs the optimizer of a collection on a background thread until the collection is dropped
/// or stopped.
pub(crate) fn spawn(c: &Arc<Collection>) {
    c.background.store(true, Ordering::Relaxed);
    let weak: Weak<Collection> = Arc::downgrade(c);
    let name = c.name().to_string();
    let spawned = std::thread::Builder::new()
        .name(format!("optimizer-{name}"))
        .spawn(move || {
            favour_this_thread();
            optimizer_loop(weak)
        });
    if let Err(e) = spawned {
        tracing::error!(collection = %name, error = %e, "could not start the optimizer");
    }
    spawn_log_sync(c, &name);
}

/// Raises the calling thread's CPU share (Linux nice -5, where the process may; otherwise it
/// keeps the default). The optimizer runs at it: while writers are held back for indexing
/// (see `wait_for_indexing`), indexing is the bottleneck of every write, and without it the
/// optimizer got about a third of a core against 56 searching connections on two cores.
fn favour_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the current thread, no memory passed.
        let done = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, OPTIMIZER_NICE)
        };
        if done != 0 {
            tracing::debug!(
                "the optimizer runs at the default priority (no permission to raise it)"
            );
        }
    }
}

fn optimizer_loop(weak: Weak<Collection>) {
    let mut untrimmed = false;
    loop {
        let Some(c) = weak.upgrade() else { break };
        if c.stop.load(Ordering::Relaxed) {
            break;
        }
        let did = c.optimize_step();
        drop(c);
        // freed memory goes back at most every TRIM_EVERY while work goes on, and once the
        // optimizer falls idle
        if did {
            untrimmed = !release_freed_memory(false);
        } else if untrimmed {
            release_freed_memory(true);
            untrimmed = false;
        }
        if !did {
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// Hands the memory freed by finished optimizer work back to the system, at most once per
/// [`TRIM_EVERY`] in the whole process. A seal, build, fold or merge frees whole segments
/// (vectors, graphs, payloads: tens to hundreds of MB) on whichever of glibc's per-thread arenas
/// they were allocated from; glibc keeps freed chunks resident unless they sit at the top of the
/// main heap, so without this the process kept 40-60 % more than it uses after a write-heavy
/// minute (docs/operations.md, "Freed memory goes back"). Trimming after every fold instead
/// (several a second under a steady write load) cost about a tenth of the indexing pace.
/// `force`: trim now whatever the time since the last one. Returns whether it trimmed (on
/// other platforms, where there is nothing to trim: always).
pub(crate) fn release_freed_memory(force: bool) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::AtomicU64;
        use std::time::{SystemTime, UNIX_EPOCH};
        static LAST_TRIM_MS: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let last = LAST_TRIM_MS.load(Ordering::Relaxed);
        if !force
            && (now.saturating_sub(last) < TRIM_EVERY.as_millis() as u64
                || LAST_TRIM_MS
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err())
        {
            return false;
        }
        LAST_TRIM_MS.store(now, Ordering::Relaxed);
        // SAFETY: malloc_trim takes no pointers; it only returns free pages of the allocator's
        // arenas to the kernel.
        unsafe {
            libc::malloc_trim(0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = force;
    true
}

/// The least time between two [`release_freed_memory`] trims.
const TRIM_EVERY: Duration = Duration::from_secs(2);

/// Writes answered before their fsync (wait=false) reach the disk within milliseconds, even
/// while the optimizer is busy with a long index build.
fn spawn_log_sync(c: &Arc<Collection>, name: &str) {
    let weak: Weak<Collection> = Arc::downgrade(c);
    let spawned = std::thread::Builder::new()
        .name(format!("log-sync-{name}"))
        .spawn(move || loop {
            let Some(c) = weak.upgrade() else { break };
            if c.stop.load(Ordering::Relaxed) {
                break;
            }
            let failed = c.sync_log().err();
            if let Some(e) = &failed {
                tracing::error!(collection = %c.name(), error = %e, "log fsync failed");
            }
            drop(c);
            std::thread::sleep(if failed.is_some() {
                Duration::from_secs(1)
            } else {
                LOG_SYNC_INTERVAL
            });
        });
    if let Err(e) = spawned {
        tracing::error!(collection = %name, error = %e, "could not start the log syncer");
    }
}
