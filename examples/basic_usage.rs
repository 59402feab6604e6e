//! Using the rustvecdb engine directly, without HTTP.
//!
//! ```text
//! cargo run --release --example basic_usage
//! ```
//!
//! It walks through what the server does for each request, by calling the engine crate
//! (`rvdb_engine`) in process:
//!
//! 1. create a collection (cosine distance; the first point fixes the dimension);
//! 2. insert vectors with JSON payloads;
//! 3. search for the nearest vectors;
//! 4. search with a payload filter (the seed's equality filter, then Qdrant's filter DSL);
//! 5. persist to a directory, drop the database, reopen it and find everything again.
//!
//! Every engine call returns a `Result`; errors say what was wrong (which field, which id).

use std::error::Error;
use std::path::Path;

use rvdb_engine::{
    CollectionConfig, Database, DatabaseOptions, Distance, Filter, Payload, PointId, PointStruct,
    ScoredPoint, SearchRequest,
};
use serde_json::{json, Value};

type Res<T> = Result<T, Box<dyn Error>>;

/// The seed walk-through's movies: `(id, embedding, payload)`.
fn movies() -> Vec<(&'static str, [f32; 4], Value)> {
    vec![
        (
            "550e8400-e29b-41d4-a716-446655440000",
            [0.1, 0.2, 0.3, 0.4],
            json!({"title": "The Matrix", "genre": "sci-fi", "year": 1999}),
        ),
        (
            "550e8400-e29b-41d4-a716-446655440001",
            [0.15, 0.25, 0.35, 0.45],
            json!({"title": "Inception", "genre": "sci-fi", "year": 2010}),
        ),
        (
            "550e8400-e29b-41d4-a716-446655440002",
            [0.8, 0.1, 0.2, 0.3],
            json!({"title": "The Notebook", "genre": "romance", "year": 2004}),
        ),
    ]
}

/// A JSON object as a point payload.
fn payload(v: Value) -> Payload {
    match v {
        Value::Object(map) => map,
        other => panic!("a payload must be a JSON object, got {other}"),
    }
}

fn movie_points() -> Res<Vec<PointStruct>> {
    movies()
        .into_iter()
        .map(|(id, vector, p)| {
            // A point id is an unsigned integer or a UUID; `parse` accepts either spelling.
            let id: PointId = id.parse()?;
            Ok(PointStruct::new(id, vector.to_vec(), payload(p)))
        })
        .collect()
}

fn title(hit: &ScoredPoint) -> &str {
    hit.payload
        .as_ref()
        .and_then(|p| p.get("title"))
        .and_then(Value::as_str)
        .unwrap_or("?")
}

fn print_hits(label: &str, hits: &[ScoredPoint]) {
    println!("{label}");
    if hits.is_empty() {
        println!("    (no hits)");
    }
    for (rank, hit) in hits.iter().enumerate() {
        println!(
            "    {}. {:<14} score {:.4}  id {}",
            rank + 1,
            title(hit),
            hit.score,
            hit.id
        );
    }
}

fn main() -> Res<()> {
    // ------------------------------------------------------------------ 1. a collection
    println!("== 1. Create a collection (in memory)");
    let db = Database::open(DatabaseOptions::in_memory())?;
    // `CollectionConfig::new` leaves the dimension open: the first point fixes it, as in the
    // seed API. `CollectionConfig::with_dim(Distance::Cosine, 4)` would fix it up front.
    db.create_collection("movies", CollectionConfig::new(Distance::Cosine))?;
    let movies = db.collection("movies")?;
    println!("    collections: {:?}", db.collection_names());

    // ------------------------------------------------------------------ 2. insert
    println!("\n== 2. Insert vectors with payloads");
    let result = movies.upsert(movie_points()?)?;
    println!(
        "    upsert: operation_id {}, status {}",
        result.operation_id, result.status
    );
    // Integer ids work too; a batch is validated whole before anything is written.
    let more = vec![
        PointStruct::new(
            PointId::Num(7),
            vec![0.7, 0.2, 0.1, 0.1],
            payload(json!({"title": "Titanic", "genre": "romance", "year": 1997})),
        ),
        PointStruct::new(
            PointId::Num(8),
            vec![0.2, 0.1, 0.4, 0.5],
            payload(json!({"title": "Arrival", "genre": "sci-fi", "year": 2016,
                           "tags": ["aliens", "linguistics"]})),
        ),
    ];
    movies.upsert(more)?;
    let info = movies.info();
    println!(
        "    {} points, dimension {}, distance {}",
        info.points_count,
        info.dim()
            .map_or("not fixed yet".to_string(), |d| d.to_string()),
        info.distance().as_str()
    );
    // A vector of the wrong dimension is refused, and nothing of its batch is applied.
    let bad = PointStruct::new(PointId::Num(9), vec![1.0, 2.0], Payload::new());
    match movies.upsert(vec![bad]) {
        Ok(_) => return Err("a 2-d vector in a 4-d collection was accepted".into()),
        Err(e) => println!("    refused as expected: {e}"),
    }
    // Cosine vectors are normalised on insert, so a stored vector comes back with length 1.
    let matrix_id: PointId = "550e8400-e29b-41d4-a716-446655440000".parse()?;
    let stored = movies.get(matrix_id).ok_or("The Matrix is missing")?;
    println!(
        "    The Matrix as stored: {:?}",
        stored.vectors.unwrap_or_default()[""]
    );

    // ------------------------------------------------------------------ 3. search
    println!("\n== 3. Search for similar vectors");
    let query = vec![0.1, 0.2, 0.3, 0.4]; // The Matrix's own embedding
    let hits = movies.search(&SearchRequest::new(query.clone(), 3))?;
    print_hits("    top 3 for The Matrix's embedding:", &hits);
    if title(&hits[0]) != "The Matrix" {
        return Err("The Matrix should be the top hit for its own vector".into());
    }

    // ------------------------------------------------------------------ 4. filters
    println!("\n== 4. Filter by payload");
    // The seed's equality filter: every `key: value` pair must match.
    let mut req = SearchRequest::new(query.clone(), 10);
    req.filter = Some(Filter::from_seed(&json!({"genre": "romance"}))?);
    let hits = movies.search(&req)?;
    print_hits("    seed filter {\"genre\": \"romance\"}:", &hits);
    if !hits
        .iter()
        .all(|h| h.payload.as_ref().unwrap()["genre"] == "romance")
    {
        return Err("the genre filter let another genre through".into());
    }
    // A value also matches an array that contains it.
    req.filter = Some(Filter::from_seed(&json!({"tags": "aliens"}))?);
    print_hits(
        "    seed filter {\"tags\": \"aliens\"}:",
        &movies.search(&req)?,
    );
    // Qdrant's filter DSL: must / should / must_not with match, range, has_id, ...
    req.filter = Some(Filter::from_qdrant(&json!({
        "must": [
            {"key": "genre", "match": {"value": "sci-fi"}},
            {"key": "year", "range": {"gte": 2000}}
        ],
        "must_not": [{"has_id": [8]}]
    }))?);
    print_hits(
        "    DSL filter: sci-fi, year >= 2000, not id 8:",
        &movies.search(&req)?,
    );
    // A malformed filter is an error that names the field.
    match Filter::from_qdrant(&json!({"must": [{"key": "year", "range": {"gte": "2000"}}]})) {
        Ok(_) => return Err("a string range bound was accepted".into()),
        Err(e) => println!("    refused as expected: {e}"),
    }

    // ------------------------------------------------------------------ 5. persistence
    println!("\n== 5. Persistence across reopen");
    let dir = std::env::temp_dir().join(format!("rvdb-basic-usage-{}", std::process::id()));
    let outcome = persistence(&dir);
    // Clean up whatever happened.
    let _ = std::fs::remove_dir_all(&dir);
    outcome?;

    println!("\nDone.");
    Ok(())
}

/// Writes to a database in `dir`, closes it, reopens it and checks that everything is back.
fn persistence(dir: &Path) -> Res<()> {
    println!("    storage directory: {}", dir.display());
    {
        let db = Database::open(DatabaseOptions::persistent(dir))?;
        db.create_collection("movies", CollectionConfig::new(Distance::Cosine))?;
        let movies = db.collection("movies")?;
        // Each acknowledged write has been appended to the collection's write-ahead log and
        // fsynced before `upsert` returns.
        movies.upsert(movie_points()?)?;
        movies.delete(vec!["550e8400-e29b-41d4-a716-446655440002".parse()?])?;
        println!(
            "    wrote 3 points and deleted 1; {} points, {} bytes of WAL",
            movies.points_count(),
            movies.info().wal_bytes
        );
        // Dropping the database closes its files and releases the directory lock.
    }
    let db = Database::open(DatabaseOptions::persistent(dir))?;
    let movies = db.collection("movies")?;
    println!(
        "    reopened: collections {:?}, {} points",
        db.collection_names(),
        movies.points_count()
    );
    if movies.points_count() != 2 {
        return Err(format!(
            "expected 2 points after reopen, found {}",
            movies.points_count()
        )
        .into());
    }
    let (records, total) = movies.list(0, 10);
    for r in &records {
        println!(
            "    {} -> {}",
            r.id,
            Value::Object(r.payload.clone().unwrap_or_default())
        );
    }
    println!("    ({total} in all)");
    let hits = movies.search(&SearchRequest::new(vec![0.15, 0.25, 0.35, 0.45], 1))?;
    print_hits("    nearest to Inception's embedding after reopen:", &hits);
    if title(&hits[0]) != "Inception" {
        return Err("Inception should be the top hit for its own vector".into());
    }
    Ok(())
}
