//! Crash consistency: a server taking concurrent `wait=true` writes (and, from one of the four
//! writers, `wait=false` ones, which a crash of the process must not lose either: the kernel
//! holds what was appended) is killed with SIGKILL at a
//! random moment, restarted on the same storage, and checked against a model of what each point
//! may be: its acknowledged state, or the state a write in flight at the kill would leave.
//!
//! Each round, 4 writer threads send Qdrant-dialect upserts (batches of 1..=20 points, often
//! overwriting), deletes and set-payloads, and a few seed-dialect upserts and deletes, to two
//! collections: `plain` (default optimizer settings) and `indexed` (a 1 KB indexing threshold, so
//! the background optimizer seals, indexes, quantizes, vacuums and merges segments all the
//! time, its int8 codes written to and read back from the segment files). Every
//! writer owns its ids, so each thread's model is exact until the kill. After the restart the
//! points read back by scroll must each be in one of their allowed states, with the exact
//! vector and payload; what survived becomes the model of the next round. After the last round
//! a final burst of writes, a graceful stop and a restart must keep everything exactly.
//!
//! `RVDB_CRASH_ROUNDS` sets the number of rounds (default 20), `RVDB_CRASH_SEED` the seed
//! (default: from the clock; printed, and named by every failure). The seed fixes each writer's
//! operations and each round's kill delay; thread timing still varies from run to run.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Server;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::{json, Map, Value};

const DIM: usize = 8;
const WRITERS: u64 = 4;
/// Writer `t` owns ids `t * ID_STRIDE + 1 ..= t * ID_STRIDE + IDS_PER_WRITER`.
const IDS_PER_WRITER: u64 = 40;
const ID_STRIDE: u64 = 1000;
const COLLECTIONS: [&str; 2] = ["plain", "indexed"];

fn create_bodies() -> [Value; 2] {
    [
        json!({"vectors": {"size": DIM, "distance": "Dot"}}),
        json!({
            "vectors": {"size": DIM, "distance": "Euclid"},
            // 1 KB of 8-dim vectors = 32 points per sealed segment; tombstones and the segment
            // count trigger vacuums and merges soon too
            "optimizers_config": {
                "indexing_threshold": 1,
                "vacuum_min_vector_number": 8,
                "deleted_threshold": 0.1,
                "default_segment_number": 2
            },
            "hnsw_config": {"m": 4, "ef_construct": 8},
            // codes built, written and read back (or rebuilt) across the kills
            "quantization_config": {"scalar": {"type": "int8", "always_ram": true}}
        }),
    ]
}

/// Picks operations: `rand`'s `StdRng`, seeded.
#[derive(Clone)]
struct Rng(StdRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(StdRng::seed_from_u64(seed))
    }
    /// In `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0.random_range(lo..=hi)
    }
    /// `n` distinct ids of writer `t`.
    fn ids(&mut self, t: u64, n: u64) -> Vec<u64> {
        rand::seq::index::sample(&mut self.0, IDS_PER_WRITER as usize, n as usize)
            .into_iter()
            .map(|i| t * ID_STRIDE + 1 + i as u64)
            .collect()
    }
}

/// A point's state: `null` when absent, else `{"vector": [f64…], "payload": {…}}`.
type State = Value;

fn present(vector: &[f64], payload: &Value) -> State {
    json!({"vector": vector, "payload": payload})
}

/// Per collection, id → state.
type Model = [BTreeMap<u64, State>; 2];

/// What one request does to the model if it applies.
struct Write {
    coll: usize,
    method: &'static str,
    path: String,
    body: Option<Value>,
    /// The answer the server must give (given the writer's exact model).
    status: u16,
    /// id → state after the write.
    effects: Vec<(u64, State)>,
    what: String,
}

/// Writer 3 asks for `wait=false` (answered after the log append, before its fsync); the others
/// for `wait=true`.
fn wait(t: u64) -> &'static str {
    if t == WRITERS - 1 {
        "false"
    } else {
        "true"
    }
}

fn random_vector(rng: &mut Rng) -> Vec<f64> {
    // quarters of small integers: exact in f32, so they come back unchanged
    (0..DIM)
        .map(|_| (rng.range(0, 128) as f64 - 64.0) / 4.0)
        .collect()
}

/// The next write of writer `t`, with its effects on `model` (this writer's ids only).
fn next_write(rng: &mut Rng, model: &Model, t: u64, round: u64, n: u64) -> Write {
    let coll = rng.range(0, 1) as usize;
    let name = COLLECTIONS[coll];
    let m = &model[coll];
    let payload_of =
        |id: u64, kind: &str| json!({"t": t, "round": round, "n": n, "id": id, "by": kind});
    match rng.range(0, 99) {
        // Qdrant upsert, 1..=20 points
        0..=44 => {
            let k = rng.range(1, 20);
            let ids = rng.ids(t, k);
            let mut points = Vec::new();
            let mut effects = Vec::new();
            for &id in &ids {
                let v = random_vector(rng);
                let p = payload_of(id, "upsert");
                points.push(json!({"id": id, "vector": v, "payload": p}));
                effects.push((id, present(&v, &p)));
            }
            Write {
                coll,
                method: "PUT",
                path: format!("/collections/{name}/points?wait={}", wait(t)),
                what: format!("upsert of {ids:?}"),
                body: Some(json!({ "points": points })),
                status: 200,
                effects,
            }
        }
        // Qdrant delete by ids (missing ones are ignored)
        45..=64 => {
            let k = rng.range(1, 10);
            let ids = rng.ids(t, k);
            Write {
                coll,
                method: "POST",
                path: format!("/collections/{name}/points/delete?wait={}", wait(t)),
                what: format!("delete of {ids:?}"),
                body: Some(json!({ "points": ids })),
                status: 200,
                effects: ids.iter().map(|&id| (id, Value::Null)).collect(),
            }
        }
        // Qdrant set payload: merged into the points that exist; a missing id is a 404 after
        // the others are updated
        65..=84 => {
            let k = rng.range(1, 10);
            let ids = rng.ids(t, k);
            let mut set = json!({"mark": n, "mark_round": round});
            if rng.range(0, 1) == 0 {
                set["by"] = json!("set_payload"); // overwrites a key the upsert wrote
            }
            let mut status = 200;
            let mut effects = Vec::new();
            for &id in &ids {
                match m.get(&id) {
                    Some(s) if !s.is_null() => {
                        let mut s = s.clone();
                        for (k, v) in set.as_object().unwrap() {
                            s["payload"][k] = v.clone();
                        }
                        effects.push((id, s));
                    }
                    _ => status = 404,
                }
            }
            Write {
                coll,
                method: "POST",
                path: format!("/collections/{name}/points/payload?wait={}", wait(t)),
                what: format!("set payload {set} on {ids:?}"),
                body: Some(json!({"payload": set, "points": ids})),
                status,
                effects,
            }
        }
        // seed upsert: a bare array, 1..=3 points
        85..=92 => {
            let k = rng.range(1, 3);
            let ids = rng.ids(t, k);
            let mut points = Vec::new();
            let mut effects = Vec::new();
            for &id in &ids {
                let v = random_vector(rng);
                let p = payload_of(id, "seed upsert");
                points.push(json!({"id": id, "vector": v, "payload": p}));
                effects.push((id, present(&v, &p)));
            }
            Write {
                coll,
                method: "POST",
                path: format!("/collections/{name}/points"),
                what: format!("seed upsert of {ids:?}"),
                body: Some(Value::Array(points)),
                status: 200,
                effects,
            }
        }
        // seed delete of one point: 404 when it is missing
        _ => {
            let id = rng.ids(t, 1)[0];
            let exists = m.get(&id).is_some_and(|s| !s.is_null());
            Write {
                coll,
                method: "DELETE",
                path: format!("/collections/{name}/points/{id}"),
                what: format!("seed delete of {id}"),
                body: None,
                status: if exists { 200 } else { 404 },
                effects: vec![(id, Value::Null)],
            }
        }
    }
}

/// What a writer thread leaves: its model after its acknowledged writes, the write in flight
/// when the server died (if any), and counts.
struct WriterEnd {
    model: Model,
    in_flight: Option<Write>,
    acked: u64,
}

fn writer(
    s: Arc<Server>,
    stop: Arc<AtomicBool>,
    mut model: Model,
    seed: u64,
    round: u64,
    t: u64,
) -> WriterEnd {
    let mut rng = Rng::new(seed ^ (round << 32) ^ (t << 56) ^ 0x5eed);
    let mut acked = 0;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let w = next_write(&mut rng, &model, t, round, n);
        match s.try_send(w.method, &w.path, w.body.as_ref()) {
            Ok((status, answer)) => {
                assert_eq!(
                    status, w.status,
                    "seed {seed}, round {round}, writer {t}: {} {} ({}) answered {status}, \
                     expected {}: {answer}\nbody: {:?}",
                    w.method, w.path, w.what, w.status, w.body
                );
                if status == 200 && w.method != "DELETE" && w.path.contains('?') {
                    let want = if w.path.ends_with("wait=false") {
                        "acknowledged"
                    } else {
                        "completed"
                    };
                    assert_eq!(answer["result"]["status"], want, "{answer}");
                }
                for (id, st) in w.effects {
                    model[w.coll].insert(id, st);
                }
                acked += 1;
            }
            // the server died under the request: it may or may not have applied
            Err(_) => {
                return WriterEnd {
                    model,
                    in_flight: Some(w),
                    acked,
                }
            }
        }
    }
    WriterEnd {
        model,
        in_flight: None,
        acked,
    }
}

/// Every point of a collection, by id (paging through scroll), each as a `State`.
fn read_back(s: &Server, coll: &str) -> BTreeMap<u64, State> {
    let mut out = BTreeMap::new();
    let mut offset = Value::Null;
    loop {
        let mut body = json!({"limit": 64, "with_payload": true, "with_vector": true});
        if !offset.is_null() {
            body["offset"] = offset.clone();
        }
        let r = s.ok(
            "POST",
            &format!("/collections/{coll}/points/scroll"),
            Some(&body),
        );
        for p in r["points"].as_array().unwrap() {
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{coll}: unexpected id in {p}"));
            let vector: Vec<f64> = p["vector"]
                .as_array()
                .unwrap_or_else(|| panic!("{coll}: no vector in {p}"))
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let payload = if p["payload"].is_null() {
                Value::Object(Map::new())
            } else {
                p["payload"].clone()
            };
            let dup = out.insert(id, present(&vector, &payload));
            assert!(dup.is_none(), "{coll}: scroll returned point {id} twice");
        }
        offset = r["next_page_offset"].clone();
        if offset.is_null() {
            return out;
        }
    }
}

/// Checks both collections against the allowed states of every id (an id with no entry must
/// be absent); returns what is there.
fn check(s: &Server, allowed: &[BTreeMap<u64, Vec<State>>; 2], seed: u64, when: &str) -> Model {
    let bodies = create_bodies();
    let mut got: Model = Default::default();
    for (c, coll) in COLLECTIONS.iter().enumerate() {
        let info = s.ok("GET", &format!("/collections/{coll}"), None);
        for k in ["size", "distance"] {
            assert_eq!(
                info["config"]["params"]["vectors"][k], bodies[c]["vectors"][k],
                "seed {seed}, {when}: {coll}: vectors.{k}: {info}"
            );
        }
        assert_eq!(
            info["config"]["quantization_config"], bodies[c]["quantization_config"],
            "seed {seed}, {when}: {coll}: quantization_config: {info}"
        );
        if let Some(o) = bodies[c].get("optimizers_config") {
            for (k, v) in o.as_object().unwrap() {
                assert_eq!(
                    &info["config"]["optimizer_config"][k], v,
                    "seed {seed}, {when}: {coll}: optimizer config {k}: {info}"
                );
            }
        }
        let now = read_back(s, coll);
        let mut bad = Vec::new();
        for (id, state) in &now {
            let ok = allowed[c].get(id).is_some_and(|a| a.contains(state));
            if !ok {
                bad.push(format!(
                    "  point {id}: got {state}; allowed {}",
                    show(allowed[c].get(id))
                ));
            }
        }
        for (id, a) in &allowed[c] {
            if !now.contains_key(id) && !a.contains(&Value::Null) {
                bad.push(format!(
                    "  point {id}: got absent; allowed {}",
                    show(Some(a))
                ));
            }
        }
        assert!(
            bad.is_empty(),
            "seed {seed} (RVDB_CRASH_SEED={seed} replays the operations), {when}: collection \
             {coll}: {} points not in an allowed state:\n{}",
            bad.len(),
            bad.join("\n")
        );
        assert_eq!(
            info["points_count"].as_u64(),
            Some(now.len() as u64),
            "seed {seed}, {when}: {coll}: points_count vs scroll: {info}"
        );
        got[c] = now;
    }
    got
}

/// Allowed states: the acknowledged one first, then those of writes in flight.
fn show(a: Option<&Vec<State>>) -> String {
    let one = |s: &State| {
        if s.is_null() {
            "absent".to_string()
        } else {
            s.to_string()
        }
    };
    match a {
        None => "absent (an id nobody wrote)".into(),
        Some(a) => {
            let mut out = format!("acknowledged {}", one(&a[0]));
            for s in &a[1..] {
                out += &format!(" or, in flight, {}", one(s));
            }
            out
        }
    }
}

/// The model as allowed states: exactly one each (absent ones left out).
fn exactly(m: &Model) -> [BTreeMap<u64, Vec<State>>; 2] {
    let one = |c: &BTreeMap<u64, State>| {
        c.iter()
            .filter(|(_, s)| !s.is_null())
            .map(|(id, s)| (*id, vec![s.clone()]))
            .collect()
    };
    [one(&m[0]), one(&m[1])]
}

fn start(dir: &std::path::Path) -> Arc<Server> {
    let s = Server::persistent(dir);
    let before = s.wait_ready(Duration::from_secs(60));
    if !before.is_empty() {
        eprintln!("  /readyz answered {before:?} before 200");
    }
    Arc::new(s)
}

/// A write in flight at a kill: its collection, and per id (state before, state after).
type InFlight = (usize, Vec<(u64, State, State)>);

/// What a round leaves.
struct Round {
    /// Per collection, id → the states each id may be in now.
    allowed: [BTreeMap<u64, Vec<State>>; 2],
    /// The model after the acknowledged writes.
    acked_model: Model,
    acked: u64,
    in_flight: Vec<InFlight>,
    /// The writes in flight, in words.
    in_flight_what: Vec<String>,
    /// Of `indexed`, while the writers ran: the most segments and indexed vectors seen.
    max_segments: u64,
    max_indexed: u64,
}

/// Runs the writers on `s` until `kill_after` (SIGKILL) or, with `None`, for a while and then
/// stops them.
fn run_round(
    s: &Arc<Server>,
    model: &Model,
    seed: u64,
    round: u64,
    kill_after: Option<Duration>,
) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let mine = |c: &BTreeMap<u64, State>| {
                c.iter()
                    .filter(|(id, _)| *id / ID_STRIDE == t)
                    .map(|(id, s)| (*id, s.clone()))
                    .collect()
            };
            let m: Model = [mine(&model[0]), mine(&model[1])];
            let (s, stop) = (s.clone(), stop.clone());
            std::thread::spawn(move || writer(s, stop, m, seed, round, t))
        })
        .collect();
    // watch the optimizer of `indexed` while the writers run
    let (mut max_segments, mut max_indexed) = (0, 0);
    let until = Instant::now() + kill_after.unwrap_or(Duration::from_millis(300));
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        std::thread::sleep(left.min(Duration::from_millis(20)));
        if let Ok((200, info)) = s.try_send("GET", "/collections/indexed", None) {
            let n = |k: &str| info["result"][k].as_u64().unwrap_or(0);
            max_segments = max_segments.max(n("segments_count"));
            max_indexed = max_indexed.max(n("indexed_vectors_count"));
        }
    }
    match kill_after {
        Some(_) => s.kill9_now(),
        None => stop.store(true, Ordering::Relaxed),
    }
    let mut allowed: [BTreeMap<u64, Vec<State>>; 2] = Default::default();
    let mut next: Model = Default::default();
    let mut acked = 0;
    let mut in_flight = Vec::new();
    let mut in_flight_what = Vec::new();
    let mut panicked = None;
    for w in writers {
        let end = match w.join() {
            Ok(end) => end,
            Err(p) => {
                panicked.get_or_insert(p);
                continue;
            }
        };
        acked += end.acked;
        for c in 0..2 {
            for (id, st) in &end.model[c] {
                allowed[c].insert(*id, vec![st.clone()]);
                next[c].insert(*id, st.clone());
            }
        }
        if let Some(w) = end.in_flight {
            let mut changes = Vec::new();
            for (id, st) in w.effects {
                let before = end.model[w.coll].get(&id).cloned().unwrap_or(Value::Null);
                let a = allowed[w.coll]
                    .entry(id)
                    .or_insert_with(|| vec![Value::Null]);
                if !a.contains(&st) {
                    a.push(st.clone());
                }
                changes.push((id, before, st));
            }
            in_flight.push((w.coll, changes));
            in_flight_what.push(format!("{} {}: {}", w.method, w.path, w.what));
        }
    }
    if let Some(p) = panicked {
        std::panic::resume_unwind(p);
    }
    Round {
        allowed,
        acked_model: next,
        acked,
        in_flight,
        in_flight_what,
        max_segments,
        max_indexed,
    }
}

/// How the writes in flight at a kill came out: (applied, not applied, partly applied).
/// Partly applied is allowed (each point only has to be in one of its states), but counted.
fn outcomes(in_flight: &[InFlight], now: &Model) -> (usize, usize, usize) {
    let (mut applied, mut lost, mut partly) = (0, 0, 0);
    for (c, changes) in in_flight {
        let (mut new, mut old) = (0, 0);
        for (id, before, after) in changes {
            if before == after {
                continue; // tells nothing
            }
            let got = now[*c].get(id).unwrap_or(&Value::Null);
            if got == after {
                new += 1;
            } else if got == before {
                old += 1;
            }
        }
        match (new, old) {
            (0, 0) => {}
            (_, 0) => applied += 1,
            (0, _) => lost += 1,
            _ => partly += 1,
        }
    }
    (applied, lost, partly)
}

#[test]
fn kill_9_under_concurrent_writes_loses_no_acknowledged_write() {
    let rounds: u64 = std::env::var("RVDB_CRASH_ROUNDS")
        .map(|v| v.parse().expect("RVDB_CRASH_ROUNDS: a number"))
        .unwrap_or(20);
    let seed: u64 = std::env::var("RVDB_CRASH_SEED")
        .map(|v| v.parse().expect("RVDB_CRASH_SEED: a number"))
        .unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test: seed {seed}, {rounds} rounds (RVDB_CRASH_SEED={seed} RVDB_CRASH_ROUNDS={rounds} to replay)");
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let mut model: Model = Default::default();
    let (mut total_acked, mut total_in_flight, mut total_partly) = (0, 0, 0);
    let (mut max_segments, mut max_indexed) = (0, 0);
    let mut s = start(dir.path());
    for (c, body) in create_bodies().iter().enumerate() {
        s.ok(
            "PUT",
            &format!("/collections/{}", COLLECTIONS[c]),
            Some(body),
        );
    }
    for round in 0..rounds {
        // mostly while the writers are in full swing; now and then right after the restart
        let delay = if rng.range(0, 5) == 0 {
            rng.range(0, 20)
        } else {
            rng.range(40, 900)
        };
        let r = run_round(&s, &model, seed, round, Some(Duration::from_millis(delay)));
        drop(s);
        s = start(dir.path());
        let when = format!(
            "after the kill of round {round} ({delay} ms in; in flight: {})",
            r.in_flight_what.join("; ")
        );
        model = check(&s, &r.allowed, seed, &when);
        let (applied, lost, partly) = outcomes(&r.in_flight, &model);
        eprintln!(
            "  round {round}: killed after {delay} ms: {} writes acknowledged; of {} in flight \
             {applied} applied, {lost} not, {partly} in part; {} + {} points; `indexed` had up \
             to {} segments and {} indexed vectors",
            r.acked,
            r.in_flight.len(),
            model[0].values().filter(|s| !s.is_null()).count(),
            model[1].values().filter(|s| !s.is_null()).count(),
            r.max_segments,
            r.max_indexed,
        );
        total_acked += r.acked;
        total_in_flight += r.in_flight.len();
        total_partly += partly;
        max_segments = max_segments.max(r.max_segments);
        max_indexed = max_indexed.max(r.max_indexed);
    }
    // a last burst without a kill, a graceful stop, and everything must be there exactly
    let r = run_round(&s, &model, seed, rounds, None);
    assert!(r.in_flight.is_empty());
    total_acked += r.acked;
    let last = r.acked_model;
    check(&s, &exactly(&last), seed, "after the final burst");
    Arc::into_inner(s).unwrap().stop();
    let s = start(dir.path());
    check(&s, &exactly(&last), seed, "after the graceful restart");
    Arc::into_inner(s).unwrap().stop();
    eprintln!(
        "crash test: {rounds} kills, {total_acked} acknowledged writes, {total_in_flight} in \
         flight at a kill ({total_partly} applied in part), up to {max_segments} segments and \
         {max_indexed} indexed vectors in `indexed`, {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        total_acked >= 10 * rounds,
        "seed {seed}: the writers hardly got going: {total_acked} acknowledged writes"
    );
}
