//! The label store under a killed writer and under two writers at once, through the real binary's
//! `review batch`, which prints a line for each verdict only after committing it.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use neuronav::science::labels::store::LabelStore;

const FINGERPRINT: &str = "0123456789abcdef";

fn writer(db: &Path, home: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .args(["review", "batch", "--fingerprint", FINGERPRINT, "--db"])
        .arg(db)
        .env("NEURONAV_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the neuronav binary starts")
}

/// Feeds `count` verdicts noted `{tag}-{i}` to `child` from a thread.
fn feed(child: &mut Child, tag: &str, count: usize) -> std::thread::JoinHandle<()> {
    let mut stdin = child.stdin.take().unwrap();
    let tag = tag.to_string();
    std::thread::spawn(move || {
        for i in 0..count {
            let verdict = ["agree", "disagree", "unsure"][i % 3];
            // A killed reader closes the pipe; the writes after that fail, as they should.
            if writeln!(stdin, "L{}N{} add {verdict} {tag}-{i}", 6 + i % 20, i % 1536).is_err() {
                return;
            }
        }
    })
}

/// Parses `saved\tID\tNEURON\tCONCEPT\tVERDICT\tTIME\tNOTE` into (note, id).
fn saved(line: &str) -> (String, i64) {
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[0], "saved", "{line}");
    (fields[6].to_string(), fields[1].parse().unwrap())
}

#[test]
fn a_killed_writer_loses_no_committed_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("labels.sqlite3");
    let mut child = writer(&db, dir.path());
    let feeder = feed(&mut child, "k", 100_000);
    let mut committed: HashMap<String, i64> = HashMap::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while committed.len() < 300 {
        let (note, id) = saved(&lines.next().expect("the writer is alive").unwrap());
        committed.insert(note, id);
    }
    // SIGKILL on Unix: no destructor, no flush, mid-transaction as likely as not.
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines the writer had printed before dying were committed too.
    for line in lines.map_while(Result::ok) {
        let (note, id) = saved(&line);
        committed.insert(note, id);
    }
    feeder.join().unwrap();

    let store = LabelStore::open(&db, FINGERPRINT).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let stored: HashMap<String, i64> =
        store.verdicts().unwrap().into_iter().map(|v| (v.note.clone().unwrap(), v.id)).collect();
    for (note, id) in &committed {
        assert_eq!(stored.get(note), Some(id), "verdict {note} was reported committed but is missing");
    }
    assert!(stored.len() >= committed.len());
    assert!(stored.len() < 100_000, "the writer was killed before it finished");
}

#[test]
fn two_writers_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("labels.sqlite3");
    let count = 300;
    let mut children: Vec<Child> = ["a", "b"].iter().map(|_| writer(&db, dir.path())).collect();
    let feeders: Vec<_> = children.iter_mut().zip(["a", "b"]).map(|(c, tag)| feed(c, tag, count)).collect();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let out = c.stdout.take().unwrap();
            std::thread::spawn(move || BufReader::new(out).lines().map(|l| saved(&l.unwrap())).collect::<Vec<_>>())
        })
        .collect();
    feeders.into_iter().for_each(|f| f.join().unwrap());
    let reported: Vec<(String, i64)> = readers.into_iter().flat_map(|r| r.join().unwrap()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(reported.len(), 2 * count);

    let store = LabelStore::open(&db, FINGERPRINT).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let stored: HashMap<String, i64> =
        store.verdicts().unwrap().into_iter().map(|v| (v.note.clone().unwrap(), v.id)).collect();
    assert_eq!(stored.len(), 2 * count);
    for (note, id) in &reported {
        assert_eq!(stored.get(note), Some(id), "{note}");
    }
}
