//! The label store: one SQLite file in the data directory holding the labels, human verdicts and
//! label scores of every model, each row keyed by the model's fingerprint.
//!
//! WAL mode lets readers and a writer work at once; two processes writing wait for each other
//! (busy timeout) instead of failing. Each verdict is its own transaction, committed with a full
//! sync before `record_verdict` returns, so a verdict shown as saved survives a crash; so is each
//! score (`record_score`), so a scoring run that stops keeps every score it got.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::error::{LabelError, Result};
use super::label::{Label, NewLabel, NewVerdict, Verdict, VerdictKind};
use super::score::{NewScore, Score};
use crate::engine::neuron::NeuronId;

/// File name of the store in the data directory.
pub const FILE_NAME: &str = "labels.sqlite3";

/// How long a write waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema migrations; migration i brings `PRAGMA user_version` from i to i + 1.
const MIGRATIONS: &[&str] = &[
    // 1: labels and verdicts.
    "CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        layer INTEGER NOT NULL,
        neuron INTEGER NOT NULL,
        concept TEXT NOT NULL,
        source TEXT NOT NULL,
        applies INTEGER NOT NULL,
        evidence TEXT NOT NULL,
        answer TEXT NOT NULL,
        time TEXT NOT NULL,
        UNIQUE (model, layer, neuron, concept, source)
    );
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        layer INTEGER NOT NULL,
        neuron INTEGER NOT NULL,
        concept TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('agree', 'disagree', 'unsure')),
        note TEXT,
        corrected TEXT,
        time TEXT NOT NULL
    );
    CREATE INDEX verdicts_by_neuron ON verdicts (model, layer, neuron, concept);",
    // 2: scores of labels by scorers.
    "CREATE TABLE scores (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        layer INTEGER NOT NULL,
        neuron INTEGER NOT NULL,
        concept TEXT NOT NULL,
        source TEXT NOT NULL,
        scorer TEXT NOT NULL,
        score REAL,
        failure TEXT,
        contexts INTEGER NOT NULL,
        detail TEXT NOT NULL,
        time TEXT NOT NULL,
        UNIQUE (model, layer, neuron, concept, source, scorer),
        CHECK ((score IS NULL) <> (failure IS NULL))
    );",
];

/// SQLite's clock, to the millisecond, in UTC.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// What storing a label did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Inserted,
    /// The same source had labelled the pair differently; its label is replaced.
    Updated,
    /// The same label was already there.
    Unchanged,
}

/// Which labels to list.
#[derive(Debug, Clone, Default)]
pub struct LabelFilter {
    pub source: Option<String>,
    pub concept: Option<String>,
    /// Only labels whose source says yes.
    pub applying: bool,
}

/// Which of a source's answers a review queue holds: the claims it made (yes, the default), the
/// ones it declined (no), or both, so that spot checks can catch what a source missed too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Answers {
    #[default]
    Yes,
    No,
    Both,
}

impl Answers {
    pub fn as_str(self) -> &'static str {
        match self {
            Answers::Yes => "yes",
            Answers::No => "no",
            Answers::Both => "both",
        }
    }

    /// Whether a label whose source said `applies` belongs in the queue.
    pub fn admits(self, applies: bool) -> bool {
        match self {
            Answers::Yes => applies,
            Answers::No => !applies,
            Answers::Both => true,
        }
    }

    /// Yes, then no, then both, then yes again.
    pub fn next(self) -> Answers {
        match self {
            Answers::Yes => Answers::No,
            Answers::No => Answers::Both,
            Answers::Both => Answers::Yes,
        }
    }
}

impl std::fmt::Display for Answers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Answers {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yes" => Ok(Answers::Yes),
            "no" => Ok(Answers::No),
            "both" => Ok(Answers::Both),
            _ => Err(format!("'{s}' is not a choice of answers: yes, no or both")),
        }
    }
}

/// A label in the review queue with the current verdict on its pair, if any, and its scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    pub label: Label,
    pub verdict: Option<Verdict>,
    /// By scorer.
    pub scores: Vec<Score>,
}

/// Counts for `review stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreStats {
    /// Labels that apply, by source and concept.
    pub labels: BTreeMap<String, BTreeMap<String, usize>>,
    /// Answers that said no, by source.
    pub declined: BTreeMap<String, usize>,
    pub verdicts: usize,
}

/// The labels and verdicts of one model.
pub struct LabelStore {
    conn: Connection,
    path: PathBuf,
    model: String,
}

impl LabelStore {
    /// Where the store lives in `data_dir`.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Opens (creating and migrating if needed) the store at `path` for the model `fingerprint`.
    pub fn open(path: &Path, fingerprint: &str) -> Result<LabelStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LabelError::io(dir, e))?;
        }
        let db = |source| LabelError::Db { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        // Switching to WAL needs a lock too; the busy timeout covers a concurrent opener.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LabelError::Invalid(format!("{}: could not switch to WAL mode ({mode})", path.display())));
        }
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        migrate(&mut conn).map_err(db)?;
        Ok(LabelStore { conn, path: path.to_path_buf(), model: fingerprint.to_string() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fingerprint(&self) -> &str {
        &self.model
    }

    fn db(&self, source: rusqlite::Error) -> LabelError {
        LabelError::Db { path: self.path.clone(), source }
    }

    /// Runs `f` in one write transaction, taking the write lock up front so that two writers
    /// queue on the busy timeout instead of failing on a lock upgrade.
    fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction, &str) -> rusqlite::Result<T>) -> Result<T> {
        let run = |conn: &mut Connection, model: &str| -> rusqlite::Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx, model)?;
            tx.commit()?;
            Ok(out)
        };
        run(&mut self.conn, &self.model).map_err(|e| self.db(e))
    }

    /// Stores `label`, replacing the same source's earlier label of the pair.
    pub fn upsert_label(&mut self, label: &NewLabel) -> Result<Upsert> {
        self.write(|tx, model| upsert(tx, model, label))
    }

    /// Stores many labels in one transaction; returns what happened to each, in order.
    pub fn upsert_labels(&mut self, labels: &[NewLabel]) -> Result<Vec<Upsert>> {
        self.write(|tx, model| labels.iter().map(|l| upsert(tx, model, l)).collect())
    }

    /// Every label of `neuron`, by concept then source.
    pub fn labels_for(&self, neuron: NeuronId) -> Result<Vec<Label>> {
        self.query_labels("AND layer = ?2 AND neuron = ?3", params![self.model, neuron.layer, neuron.index])
    }

    /// Labels matching `filter`, by neuron, concept and source.
    pub fn labels(&self, filter: &LabelFilter) -> Result<Vec<Label>> {
        self.query_labels(
            "AND (?2 IS NULL OR source = ?2) AND (?3 IS NULL OR concept = ?3) AND (?4 = 0 OR applies = 1)",
            params![self.model, filter.source, filter.concept, filter.applying],
        )
    }

    /// Every label of the model, grouped by neuron: what a view loads once at start-up.
    pub fn labels_by_neuron(&self) -> Result<HashMap<NeuronId, Vec<Label>>> {
        let mut map: HashMap<NeuronId, Vec<Label>> = HashMap::new();
        for label in self.labels(&LabelFilter::default())? {
            map.entry(label.neuron).or_default().push(label);
        }
        Ok(map)
    }

    /// The (neuron, concept) pairs `source` has answered, yes or no.
    pub fn answered(&self, source: &str) -> Result<HashSet<(NeuronId, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT layer, neuron, concept FROM labels WHERE model = ?1 AND source = ?2")
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map(params![self.model, source], |r| {
                Ok((NeuronId { layer: r.get(0)?, index: r.get(1)? }, r.get::<_, String>(2)?))
            })
            .map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.db(e))
    }

    fn query_labels(&self, condition: &str, params: impl rusqlite::Params) -> Result<Vec<Label>> {
        let sql = format!(
            "SELECT layer, neuron, concept, source, applies, evidence, answer, time FROM labels
             WHERE model = ?1 {condition} ORDER BY layer, neuron, concept, source"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.db(e))?;
        let rows = stmt.query_map(params, label_row).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.db(e))
    }

    /// Records `verdict` in its own transaction; when this returns, it is on disk.
    pub fn record_verdict(&mut self, verdict: &NewVerdict) -> Result<Verdict> {
        self.write(|tx, model| {
            tx.query_row(
                &format!(
                    "INSERT INTO verdicts (model, layer, neuron, concept, verdict, note, corrected, time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {NOW})
                     RETURNING id, layer, neuron, concept, verdict, note, corrected, time"
                ),
                params![
                    model,
                    verdict.neuron.layer,
                    verdict.neuron.index,
                    verdict.concept,
                    verdict.verdict.as_str(),
                    verdict.note,
                    verdict.corrected
                ],
                verdict_row,
            )
        })
    }

    /// Every verdict on `neuron`, oldest first.
    pub fn verdicts_for(&self, neuron: NeuronId) -> Result<Vec<Verdict>> {
        self.query_verdicts("AND layer = ?2 AND neuron = ?3", params![self.model, neuron.layer, neuron.index])
    }

    /// Every verdict of the model, oldest first.
    pub fn verdicts(&self) -> Result<Vec<Verdict>> {
        self.query_verdicts("", params![self.model])
    }

    fn query_verdicts(&self, condition: &str, params: impl rusqlite::Params) -> Result<Vec<Verdict>> {
        let sql = format!(
            "SELECT id, layer, neuron, concept, verdict, note, corrected, time FROM verdicts
             WHERE model = ?1 {condition} ORDER BY id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.db(e))?;
        let rows = stmt.query_map(params, verdict_row).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.db(e))
    }

    /// Labels whose source gave one of `answers`, from one source and/or of one concept, with the
    /// current verdict on each: unchecked ones first, then by neuron.
    pub fn review_queue(
        &self,
        source: Option<&str>,
        concept: Option<&str>,
        answers: Answers,
    ) -> Result<Vec<QueueItem>> {
        let filter =
            LabelFilter { source: source.map(String::from), concept: concept.map(String::from), applying: false };
        let current = latest_verdicts(self.verdicts()?);
        let mut scores = scores_by_label(self.scores()?);
        let mut items: Vec<QueueItem> = self
            .labels(&filter)?
            .into_iter()
            .filter(|label| answers.admits(label.applies))
            .map(|label| {
                let verdict = current.get(&(label.neuron, label.concept.clone())).cloned();
                let key = (label.neuron, label.concept.clone(), label.source.clone());
                QueueItem { scores: scores.remove(&key).unwrap_or_default(), label, verdict }
            })
            .collect();
        // Stable: within each group the labels keep their neuron order.
        items.sort_by_key(|item| item.verdict.is_some());
        Ok(items)
    }

    /// Stores `score` in its own transaction, replacing the same scorer's earlier score of the
    /// label; when this returns, it is on disk.
    pub fn record_score(&mut self, score: &NewScore) -> Result<Score> {
        match (score.score, &score.failure) {
            (Some(x), None) if x.is_finite() => {}
            (Some(x), None) => return Err(LabelError::Invalid(format!("a score must be a finite number, not {x}"))),
            (None, Some(_)) => {}
            _ => return Err(LabelError::Invalid("a score needs either a number or the reason it has none".into())),
        }
        if score.scorer.trim().is_empty() {
            return Err(LabelError::Invalid("a score needs the scorer's name".into()));
        }
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&score.detail) {
            return Err(LabelError::Invalid(format!("the detail of a score must be JSON: {e}")));
        }
        self.write(|tx, model| {
            tx.query_row(
                &format!(
                    "INSERT INTO scores (model, layer, neuron, concept, source, scorer, score, failure, contexts, detail, time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, {NOW})
                     ON CONFLICT (model, layer, neuron, concept, source, scorer) DO UPDATE SET
                        score = excluded.score, failure = excluded.failure, contexts = excluded.contexts,
                        detail = excluded.detail, time = excluded.time
                     RETURNING {SCORE_COLUMNS}"
                ),
                params![
                    model,
                    score.neuron.layer,
                    score.neuron.index,
                    score.concept,
                    score.source,
                    score.scorer,
                    score.score,
                    score.failure,
                    score.contexts,
                    score.detail
                ],
                score_row,
            )
        })
    }

    /// Every score of `neuron`'s labels, by concept, source and scorer.
    pub fn scores_for(&self, neuron: NeuronId) -> Result<Vec<Score>> {
        self.query_scores("AND layer = ?2 AND neuron = ?3", params![self.model, neuron.layer, neuron.index])
    }

    /// Every score of the model, by neuron, concept, source and scorer.
    pub fn scores(&self) -> Result<Vec<Score>> {
        self.query_scores("", params![self.model])
    }

    fn query_scores(&self, condition: &str, params: impl rusqlite::Params) -> Result<Vec<Score>> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS} FROM scores
             WHERE model = ?1 {condition} ORDER BY layer, neuron, concept, source, scorer"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.db(e))?;
        let rows = stmt.query_map(params, score_row).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| self.db(e))
    }

    pub fn stats(&self) -> Result<StoreStats> {
        let mut stats = StoreStats::default();
        for label in self.labels(&LabelFilter::default())? {
            if label.applies {
                *stats.labels.entry(label.source).or_default().entry(label.concept).or_default() += 1;
            } else {
                *stats.declined.entry(label.source).or_default() += 1;
            }
        }
        stats.verdicts = self
            .conn
            .query_row("SELECT count(*) FROM verdicts WHERE model = ?1", [&self.model], |r| r.get(0))
            .map_err(|e| self.db(e))?;
        Ok(stats)
    }

    /// SQLite's own check of the file: "ok" when sound.
    pub fn integrity_check(&self) -> Result<String> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| self.db(e))
    }
}

/// The current (latest) verdict on each (neuron, concept) pair of `verdicts`.
pub fn latest_verdicts(verdicts: Vec<Verdict>) -> HashMap<(NeuronId, String), Verdict> {
    let mut current: HashMap<(NeuronId, String), Verdict> = HashMap::new();
    for v in verdicts {
        match current.get(&(v.neuron, v.concept.clone())) {
            Some(old) if old.id > v.id => {}
            _ => drop(current.insert((v.neuron, v.concept.clone()), v)),
        }
    }
    current
}

/// Scores grouped by the label they score: (neuron, concept, source).
pub fn scores_by_label(scores: Vec<Score>) -> HashMap<(NeuronId, String, String), Vec<Score>> {
    let mut map: HashMap<(NeuronId, String, String), Vec<Score>> = HashMap::new();
    for s in scores {
        map.entry((s.neuron, s.concept.clone(), s.source.clone())).or_default().push(s);
    }
    map
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        // A newer neuronav made this file: leave it alone rather than guess.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!("schema version {version} is newer than this neuronav knows ({})", MIGRATIONS.len())),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()
}

fn upsert(conn: &Connection, model: &str, l: &NewLabel) -> rusqlite::Result<Upsert> {
    let evidence = serde_json::to_string(&l.evidence).expect("strings serialize");
    let existing: Option<(bool, String, String)> = conn
        .query_row(
            "SELECT applies, evidence, answer FROM labels
             WHERE model = ?1 AND layer = ?2 AND neuron = ?3 AND concept = ?4 AND source = ?5",
            params![model, l.neuron.layer, l.neuron.index, l.concept, l.source],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if existing.as_ref().is_some_and(|(a, e, ans)| *a == l.applies && *e == evidence && *ans == l.answer) {
        return Ok(Upsert::Unchanged);
    }
    conn.execute(
        &format!(
            "INSERT INTO labels (model, layer, neuron, concept, source, applies, evidence, answer, time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {NOW})
             ON CONFLICT (model, layer, neuron, concept, source) DO UPDATE SET
                applies = excluded.applies, evidence = excluded.evidence, answer = excluded.answer, time = excluded.time"
        ),
        params![model, l.neuron.layer, l.neuron.index, l.concept, l.source, l.applies, evidence, l.answer],
    )?;
    Ok(if existing.is_some() { Upsert::Updated } else { Upsert::Inserted })
}

fn label_row(r: &rusqlite::Row) -> rusqlite::Result<Label> {
    let evidence: String = r.get(5)?;
    Ok(Label {
        neuron: NeuronId { layer: r.get(0)?, index: r.get(1)? },
        concept: r.get(2)?,
        source: r.get(3)?,
        applies: r.get(4)?,
        // Written by `upsert` as a JSON list; a hand-edited row that is not still shows as one token.
        evidence: serde_json::from_str(&evidence).unwrap_or_else(|_| vec![evidence]),
        answer: r.get(6)?,
        time: r.get(7)?,
    })
}

const SCORE_COLUMNS: &str = "layer, neuron, concept, source, scorer, score, failure, contexts, detail, time";

fn score_row(r: &rusqlite::Row) -> rusqlite::Result<Score> {
    Ok(Score {
        neuron: NeuronId { layer: r.get(0)?, index: r.get(1)? },
        concept: r.get(2)?,
        source: r.get(3)?,
        scorer: r.get(4)?,
        score: r.get(5)?,
        failure: r.get(6)?,
        contexts: r.get(7)?,
        detail: r.get(8)?,
        time: r.get(9)?,
    })
}

fn verdict_row(r: &rusqlite::Row) -> rusqlite::Result<Verdict> {
    let kind: String = r.get(4)?;
    Ok(Verdict {
        id: r.get(0)?,
        neuron: NeuronId { layer: r.get(1)?, index: r.get(2)? },
        concept: r.get(3)?,
        // The table's CHECK admits only the three kinds.
        verdict: kind.parse().unwrap_or(VerdictKind::Unsure),
        note: r.get(5)?,
        corrected: r.get(6)?,
        time: r.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(neuron: &str, concept: &str, source: &str, applies: bool) -> NewLabel {
        NewLabel {
            neuron: neuron.parse().unwrap(),
            concept: concept.into(),
            source: source.into(),
            applies,
            evidence: vec!["+".into(), "plus".into()],
            answer: if applies { String::new() } else { "No, not at all".into() },
        }
    }

    fn verdict(neuron: &str, concept: &str, kind: VerdictKind) -> NewVerdict {
        NewVerdict {
            neuron: neuron.parse().unwrap(),
            concept: concept.into(),
            verdict: kind,
            note: None,
            corrected: None,
        }
    }

    #[test]
    fn labels_upsert_and_are_kept_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/labels.sqlite3");
        let mut store = LabelStore::open(&path, "aaaa").unwrap();
        assert_eq!(store.upsert_label(&label("L1N2", "add", "lexicon", true)).unwrap(), Upsert::Inserted);
        assert_eq!(store.upsert_label(&label("L1N2", "add", "lexicon", true)).unwrap(), Upsert::Unchanged);
        assert_eq!(store.upsert_label(&label("L1N2", "add", "gpt", false)).unwrap(), Upsert::Inserted);
        assert_eq!(store.upsert_label(&label("L1N2", "add", "gpt", true)).unwrap(), Upsert::Updated);
        store.upsert_labels(&[label("L0N5", "add", "lexicon", true), label("L1N2", "formula", "x", false)]).unwrap();

        let got = store.labels_for("L1N2".parse().unwrap()).unwrap();
        let keys: Vec<_> = got.iter().map(|l| (l.concept.as_str(), l.source.as_str(), l.applies)).collect();
        assert_eq!(keys, [("add", "gpt", true), ("add", "lexicon", true), ("formula", "x", false)]);
        assert_eq!(got[0].evidence, ["+", "plus"]);
        assert!(got[0].time.ends_with('Z'), "{}", got[0].time);
        let by_neuron = store.labels_by_neuron().unwrap();
        assert_eq!(by_neuron.len(), 2);
        assert_eq!(store.answered("gpt").unwrap(), HashSet::from([("L1N2".parse().unwrap(), "add".to_string())]));

        let other = LabelStore::open(&path, "bbbb").unwrap();
        assert!(other.labels_by_neuron().unwrap().is_empty());
        drop(store);
        let reopened = LabelStore::open(&path, "aaaa").unwrap();
        assert_eq!(reopened.labels_by_neuron().unwrap().values().map(Vec::len).sum::<usize>(), 4);
        assert_eq!(reopened.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn verdicts_append_and_the_queue_puts_unchecked_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LabelStore::open(&dir.path().join("l.sqlite3"), "m").unwrap();
        for n in ["L1N1", "L1N2", "L1N3"] {
            store.upsert_label(&label(n, "add", "lexicon", true)).unwrap();
        }
        store.upsert_label(&label("L1N4", "add", "lexicon", false)).unwrap();
        let first = store.record_verdict(&verdict("L1N1", "add", VerdictKind::Disagree)).unwrap();
        let mut second = verdict("L1N1", "add", VerdictKind::Agree);
        second.note = Some("on reflection".into());
        let second = store.record_verdict(&second).unwrap();
        assert!(second.id > first.id);
        assert_eq!(store.verdicts_for("L1N1".parse().unwrap()).unwrap(), [first, second.clone()]);

        let queue = store.review_queue(Some("lexicon"), Some("add"), Answers::Yes).unwrap();
        let order: Vec<String> = queue.iter().map(|q| q.label.neuron.to_string()).collect();
        assert_eq!(order, ["L1N2", "L1N3", "L1N1"], "unchecked first, declined labels left out");
        assert_eq!(queue[2].verdict.as_ref(), Some(&second));
        assert!(store.review_queue(Some("gpt"), None, Answers::Both).unwrap().is_empty());
        let declined = store.review_queue(Some("lexicon"), None, Answers::No).unwrap();
        let order: Vec<String> = declined.iter().map(|q| q.label.neuron.to_string()).collect();
        assert_eq!(order, ["L1N4"], "only the label the source said no to");
        let both = store.review_queue(None, Some("add"), Answers::Both).unwrap();
        let order: Vec<String> = both.iter().map(|q| q.label.neuron.to_string()).collect();
        assert_eq!(order, ["L1N2", "L1N3", "L1N4", "L1N1"]);

        let stats = store.stats().unwrap();
        assert_eq!(stats.labels["lexicon"]["add"], 3);
        assert_eq!(stats.declined["lexicon"], 1);
        assert_eq!(stats.verdicts, 2);
    }

    fn score(neuron: &str, scorer: &str, score: Option<f64>, failure: Option<&str>) -> NewScore {
        NewScore {
            neuron: neuron.parse().unwrap(),
            concept: "add".into(),
            source: "gpt".into(),
            scorer: scorer.into(),
            score,
            failure: failure.map(String::from),
            contexts: 12,
            detail: r#"{"answer": "1, 3"}"#.into(),
        }
    }

    #[test]
    fn scores_upsert_per_scorer_and_reach_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let mut store = LabelStore::open(&path, "m").unwrap();
        store.upsert_label(&label("L1N1", "add", "gpt", true)).unwrap();
        let first = store.record_score(&score("L1N1", "detection", Some(0.5), None)).unwrap();
        assert_eq!((first.score, first.contexts, first.scorer.as_str()), (Some(0.5), 12, "detection"));
        assert!(first.time.ends_with('Z'), "{}", first.time);
        store.record_score(&score("L1N1", "detection", Some(0.75), None)).unwrap();
        store.record_score(&score("L1N1", "simulation", None, Some("the reply is not JSON"))).unwrap();
        store.record_score(&score("L2N2", "detection", Some(-0.25), None)).unwrap();

        drop(store);
        let mut store = LabelStore::open(&path, "m").unwrap();
        let got = store.scores_for("L1N1".parse().unwrap()).unwrap();
        let keys: Vec<_> = got.iter().map(|s| (s.scorer.as_str(), s.score, s.failure.as_deref())).collect();
        assert_eq!(keys, [("detection", Some(0.75), None), ("simulation", None, Some("the reply is not JSON"))]);
        assert_eq!(got[0].detail, r#"{"answer": "1, 3"}"#);
        assert_eq!(store.scores().unwrap().len(), 3);
        assert!(LabelStore::open(&path, "other").unwrap().scores().unwrap().is_empty());

        let queue = store.review_queue(None, None, Answers::Yes).unwrap();
        assert_eq!(queue[0].scores, got, "a label's scores come with it");

        // Neither or both of score and failure, a NaN, or a detail that is not JSON: refused.
        for bad in [
            score("L1N1", "detection", None, None),
            score("L1N1", "detection", Some(0.1), Some("why")),
            score("L1N1", "detection", Some(f64::NAN), None),
            NewScore { detail: "answer: 1, 3".into(), ..score("L1N1", "seeds", Some(0.1), None) },
        ] {
            assert!(matches!(store.record_score(&bad), Err(LabelError::Invalid(_))), "{bad:?}");
        }
        assert_eq!(store.scores().unwrap().len(), 3);
    }

    #[test]
    fn a_store_of_schema_version_1_gains_the_score_table_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        {
            // What neuronav wrote before scores existed.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO labels (model, layer, neuron, concept, source, applies, evidence, answer, time)
                 VALUES ('m', 1, 2, 'add', 'gpt', 0, '[\"plus\"]', 'No.', '2025-01-01T00:00:00.000Z')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO verdicts (model, layer, neuron, concept, verdict, time)
                 VALUES ('m', 1, 2, 'add', 'disagree', '2025-01-01T00:00:01.000Z')",
                [],
            )
            .unwrap();
        }
        let mut store = LabelStore::open(&path, "m").unwrap();
        let version: usize = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len());
        let labels = store.labels_for("L1N2".parse().unwrap()).unwrap();
        assert_eq!((labels[0].applies, labels[0].evidence.as_slice()), (false, ["plus".to_string()].as_slice()));
        assert_eq!(store.verdicts().unwrap().len(), 1);
        assert!(store.scores().unwrap().is_empty());
        let mut s = score("L1N2", "detection", Some(0.9), None);
        s.contexts = 40;
        assert_eq!(store.record_score(&s).unwrap().contexts, 40);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        drop(LabelStore::open(&path, "m").unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let message = LabelStore::open(&path, "m").err().unwrap().to_string();
        assert!(message.contains("schema version 99"), "{message}");
        assert!(message.contains("l.sqlite3"), "{message}");
    }
}
