//! Snapshots under the fault-injecting file system: a failure at every write, every fsync and
//! every read of a snapshot create or recover (and of a full snapshot's) fails the operation
//! with an error, leaves no snapshot listed that is not whole, keeps every acknowledged point
//! served, and a recovery that fails leaves the collection as it was — also after a power loss
//! right after the failure. (A failed read of a file that a collection rebuilds when it is
//! missing, a payload index or a graph, is absorbed: the recovery succeeds, with every point.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rvdb_storage::{FaultyVfs, MemoryVfs, Vfs};
use serde_json::json;
use sha2::Digest;

use super::{fresh, open, read_all, run, vector, Model};
use crate::{Database, PointId};

/// The kinds of injected failure, each counted separately by [`FaultyVfs`].
#[derive(Clone, Copy, Debug)]
enum Fault {
    Write,
    Sync,
    Read,
}

const FAULTS: [Fault; 3] = [Fault::Write, Fault::Sync, Fault::Read];

fn counts(f: &FaultyVfs) -> [u64; 3] {
    [f.write_count(), f.sync_count(), f.read_count()]
}

fn arm(f: &FaultyVfs, fault: Fault, n: u64) {
    match fault {
        Fault::Write => f.fail_nth_write(n),
        Fault::Sync => f.fail_nth_sync(n),
        Fault::Read => f.fail_nth_read(n),
    }
}

/// A database on `base`'s durable state, through a fault-injecting wrapper.
fn open_copy(base: &MemoryVfs) -> (MemoryVfs, FaultyVfs, Database) {
    let mem = base.crashed_copy();
    let faulty = FaultyVfs::new(Arc::new(mem.clone()));
    let db = open(Arc::new(faulty.clone())).unwrap();
    (mem, faulty, db)
}

/// Runs `op` on a copy of `base` once cleanly to count its I/O, then once per injected failure
/// (every write, every fsync, every read of it), calling `check` with the copy's file system,
/// the database and the outcome. Returns how many failure points were exercised.
fn sweep<T>(
    base: &MemoryVfs,
    op: impl Fn(&Database) -> crate::Result<T>,
    check: impl Fn(&str, Fault, &MemoryVfs, Database, crate::Result<T>),
) -> u64 {
    let (_, faulty, db) = open_copy(base);
    let before = counts(&faulty);
    op(&db).unwrap_or_else(|e| panic!("a clean run fails: {e}"));
    let after = counts(&faulty);
    drop(db);
    let mut cases = 0;
    for (i, fault) in FAULTS.into_iter().enumerate() {
        let total = after[i] - before[i];
        assert!(total > 0, "no {fault:?} to fail");
        for n in 1..=total {
            let (mem, faulty, db) = open_copy(base);
            arm(&faulty, fault, n);
            let result = op(&db);
            check(
                &format!("{fault:?} {n} of {total}"),
                fault,
                &mem,
                db,
                result,
            );
            cases += 1;
        }
    }
    cases
}

/// A database whose collection `f` went through the whole workload (seals, indexes, vacuums),
/// and the points it acknowledged.
fn loaded() -> (MemoryVfs, Model) {
    let (mem, _) = fresh();
    let db = open(Arc::new(mem.clone())).unwrap();
    let (mut model, failed) = run(&db);
    assert!(failed.is_none());
    let c = db.collection("f").unwrap();
    assert!(c.info().segments_count > 2);
    // and points only in the log, which the snapshot flushes first
    let late: Vec<u64> = (2000..2030).collect();
    c.upsert(
        late.iter()
            .map(|&i| super::p(i, &vector(i, 8), json!({"r": 8})))
            .collect(),
    )
    .unwrap();
    for i in late {
        model.insert(PointId::Num(i), (vector(i, 8), json!({"r": 8})));
    }
    drop(c);
    drop(db);
    (mem, model)
}

/// The points of collection `name`.
fn read_named(db: &Database, name: &str) -> Model {
    let (records, _) = db.collection(name).unwrap().list(0, usize::MAX);
    records
        .into_iter()
        .map(|r| {
            let vector = r.vectors.unwrap()[""].as_dense().unwrap().to_vec();
            (
                r.id,
                (vector, serde_json::Value::Object(r.payload.unwrap())),
            )
        })
        .collect()
}

/// Hidden entries (work in progress) anywhere under `dir`.
fn hidden_under(vfs: &MemoryVfs, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in vfs.read_dir(&d).unwrap_or_default() {
            let path = d.join(&e.name);
            if e.name.to_string_lossy().starts_with('.') {
                out.push(path.clone());
            }
            if e.is_dir {
                stack.push(path);
            }
        }
    }
    out
}

/// The bytes of snapshot `name` of collection `f`, after checking them against their checksum.
fn snapshot_bytes(db: &Database, vfs: &MemoryVfs, d: &crate::SnapshotDescription) -> Vec<u8> {
    let path = db.snapshot_path("f", &d.name).unwrap();
    let bytes = vfs.read(&path).unwrap();
    let sum: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(d.checksum.as_deref(), Some(sum.as_str()), "{}", d.name);
    bytes
}

/// Recovers `bytes` into a fresh database: it must hold exactly `want`.
fn assert_recovers_to(bytes: &[u8], want: &Model, case: &str) {
    let mem = MemoryVfs::new();
    let db = open(Arc::new(mem.clone())).unwrap();
    let file = Path::new("/upload.snapshot");
    mem.create_new(file).unwrap().write_all(bytes).unwrap();
    db.recover_snapshot("f", file, None)
        .unwrap_or_else(|e| panic!("{case}: a listed snapshot does not recover: {e}"));
    assert!(
        &read_all(&db) == want,
        "{case}: the snapshot holds other points"
    );
}

#[test]
fn a_failure_anywhere_in_creating_a_snapshot_leaves_no_snapshot_that_is_not_whole() {
    let (base, model) = loaded();
    let snaps = Path::new("/db/snapshots");
    let cases = sweep(
        &base,
        |db| db.create_snapshot("f"),
        |case, _, mem, db, result| {
            assert!(result.is_err(), "{case}: the snapshot is reported created");
            // every acknowledged point is still served, and no snapshot is listed
            assert!(read_all(&db) == model, "{case}: points changed");
            let listed = db.list_snapshots("f").unwrap();
            assert!(listed.is_empty(), "{case}: a failed snapshot is listed");
            assert_eq!(hidden_under(mem, snaps), Vec::<PathBuf>::new(), "{case}");
            // a power loss right after: the collection is whole, no snapshot shows, and writes
            // go on
            drop(db);
            mem.crash();
            let db = open(Arc::new(mem.clone())).unwrap();
            assert!(
                read_all(&db) == model,
                "{case}: points changed after a crash"
            );
            assert!(db.list_snapshots("f").unwrap().is_empty(), "{case}");
            assert_eq!(hidden_under(mem, snaps), Vec::<PathBuf>::new(), "{case}");
            let c = db.collection("f").unwrap();
            c.upsert(vec![super::p(9_999, &vector(9_999, 9), json!({}))])
                .unwrap();
        },
    );
    assert!(cases > 20, "{cases} failure points");
    // and one that succeeds is listed, whole, and survives a power loss
    let (mem, _, db) = open_copy(&base);
    let d = db.create_snapshot("f").unwrap();
    assert_eq!(db.list_snapshots("f").unwrap(), vec![d.clone()]);
    assert_recovers_to(&snapshot_bytes(&db, &mem, &d), &model, "clean");
    drop(db);
    mem.crash();
    let db = open(Arc::new(mem.clone())).unwrap();
    let listed = db.list_snapshots("f").unwrap();
    assert_eq!(listed.len(), 1);
    assert_recovers_to(
        &snapshot_bytes(&db, &mem, &listed[0]),
        &model,
        "after a crash",
    );
}

/// Collection `f` after the workload (`old`), a snapshot of it at `/db/snapshots/...`, and more
/// writes after it (`now`).
fn loaded_with_snapshot() -> (MemoryVfs, PathBuf, Model, Model) {
    let (base, old) = loaded();
    let db = open(Arc::new(base.clone())).unwrap();
    let d = db.create_snapshot("f").unwrap();
    let file = db.snapshot_path("f", &d.name).unwrap();
    let c = db.collection("f").unwrap();
    c.delete((0..40).map(PointId::Num).collect()).unwrap();
    c.upsert(
        (1000..1020)
            .map(|i| super::p(i, &vector(i, 7), json!({"r": 7})))
            .collect(),
    )
    .unwrap();
    let now = read_all(&db);
    assert!(now != old);
    drop(c);
    drop(db);
    (base, file, old, now)
}

#[test]
fn a_failure_anywhere_in_recovering_a_snapshot_leaves_the_collection_as_it_was() {
    let (base, file, old, now) = loaded_with_snapshot();
    let cases = sweep(
        &base,
        |db| db.recover_snapshot("f", &file, None),
        |case, fault, mem, db, result| {
            assert!(
                result.is_err() || matches!(fault, Fault::Read),
                "{case}: the recovery is reported done"
            );
            let want = if result.is_ok() { &old } else { &now };
            assert!(
                &read_all(&db) == want,
                "{case} ({result:?}): the collection is neither the old one nor the snapshot's"
            );
            assert_eq!(db.collection_names(), ["f"], "{case}");
            assert_eq!(
                hidden_under(mem, Path::new("/db/collections")),
                Vec::<PathBuf>::new(),
                "{case}: a staged copy is left"
            );
            // writes go on
            let c = db.collection("f").unwrap();
            c.upsert(vec![super::p(9_999, &vector(9_999, 9), json!({}))])
                .unwrap_or_else(|e| panic!("{case}: a write after the recovery fails: {e}"));
            c.delete(vec![PointId::Num(9_999)]).unwrap();
            drop(c);
            // a power loss right after: the same collection comes back
            drop(db);
            mem.crash();
            let db = open(Arc::new(mem.clone())).unwrap();
            assert!(
                &read_all(&db) == want,
                "{case} ({result:?}): other points after a crash"
            );
            assert!(db.failed_collections().is_empty(), "{case}");
        },
    );
    assert!(cases > 20, "{cases} failure points");
}

#[test]
fn a_failed_recovery_into_a_new_name_leaves_no_collection_behind() {
    let (base, file, old, now) = loaded_with_snapshot();
    sweep(
        &base,
        |db| db.recover_snapshot("g", &file, None),
        |case, fault, mem, db, result| {
            assert!(result.is_err() || matches!(fault, Fault::Read), "{case}");
            assert!(read_all(&db) == now, "{case}: `f` changed");
            match &result {
                Ok(()) => assert!(
                    read_named(&db, "g") == old,
                    "{case}: `g` is not the snapshot's"
                ),
                Err(_) => assert!(db.collection("g").is_err(), "{case}: `g` is served"),
            }
            drop(db);
            mem.crash();
            let db = open(Arc::new(mem.clone())).unwrap();
            assert_eq!(db.collection("g").is_ok(), result.is_ok(), "{case}");
            assert!(db.failed_collections().is_empty(), "{case}");
        },
    );
}

#[test]
fn a_failure_anywhere_in_a_full_snapshot_and_its_recovery_fails_cleanly() {
    let (base, model) = loaded();
    // create
    sweep(
        &base,
        |db| db.create_full_snapshot(),
        |case, _, mem, db, result| {
            assert!(result.is_err(), "{case}: the snapshot is reported created");
            assert!(read_all(&db) == model, "{case}: points changed");
            let listed = db.list_full_snapshots().unwrap();
            assert_eq!(listed.len(), usize::from(result.is_ok()), "{case}");
            assert_eq!(
                hidden_under(mem, Path::new("/db/snapshots")),
                Vec::<PathBuf>::new(),
                "{case}"
            );
        },
    );
    // recover over the collection as it was, with an alias deleted since
    let db = open(Arc::new(base.clone())).unwrap();
    let alias = |action| db.update_aliases(&[action]).unwrap();
    alias(crate::AliasAction::Create {
        alias: "al".into(),
        collection: "f".into(),
    });
    let d = db.create_full_snapshot().unwrap();
    let file = db.full_snapshot_path(&d.name).unwrap();
    alias(crate::AliasAction::Delete { alias: "al".into() });
    drop(db);
    sweep(
        &base,
        |db| db.recover_full_snapshot(&file, None),
        |case, fault, mem, db, result| {
            assert!(result.is_err() || matches!(fault, Fault::Read), "{case}");
            assert!(read_all(&db) == model, "{case}: points changed");
            if result.is_ok() {
                assert_eq!(db.aliases(), [("al".into(), "f".into())], "{case}");
            }
            drop(db);
            mem.crash();
            let db = open(Arc::new(mem.clone())).unwrap();
            assert!(
                read_all(&db) == model,
                "{case}: points changed after a crash"
            );
        },
    );
}
