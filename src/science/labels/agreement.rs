//! How far labels can be trusted: agreement with the human verdicts, Cohen's kappa between two
//! label sources on the pairs both answered, and how far label scores tell the labels people
//! agreed with from the others. Pure functions over what the store returns.
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::label::{Label, Verdict, VerdictKind};
use super::score::Score;
use super::scoring::math;
use crate::engine::neuron::NeuronId;

/// Labels against the current human verdicts on their pairs. A verdict judges the claim "the
/// neuron carries the concept": a label agrees with it when the label says yes and the person
/// agreed, or says no and the person disagreed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    pub labels: usize,
    /// Labels with a verdict on their pair.
    pub checked: usize,
    pub agreed: usize,
    pub disagreed: usize,
    pub unsure: usize,
}

impl Agreement {
    /// agreed / (agreed + disagreed); `None` before any decided verdict.
    pub fn rate(&self) -> Option<f64> {
        let decided = self.agreed + self.disagreed;
        (decided > 0).then(|| self.agreed as f64 / decided as f64)
    }

    fn add(&mut self, other: &Agreement) {
        self.labels += other.labels;
        self.checked += other.checked;
        self.agreed += other.agreed;
        self.disagreed += other.disagreed;
        self.unsure += other.unsure;
    }
}

/// A label the person's verdict contradicts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    pub label: Label,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HumanAgreement {
    pub per_concept: BTreeMap<String, Agreement>,
    pub overall: Agreement,
    /// The labels whose source said yes: agreed when the person agreed.
    pub said_yes: Agreement,
    /// The labels whose source said no: agreed when the person disagreed with the claim.
    pub said_no: Agreement,
    pub disagreements: Vec<Disagreement>,
}

/// `labels` judged by `current`, the latest verdict per (neuron, concept).
pub fn human_agreement(labels: &[Label], current: &HashMap<(NeuronId, String), Verdict>) -> HumanAgreement {
    let mut report = HumanAgreement::default();
    for label in labels {
        let mut one = Agreement { labels: 1, ..Agreement::default() };
        if let Some(verdict) = current.get(&(label.neuron, label.concept.clone())) {
            one.checked = 1;
            match verdict.verdict {
                VerdictKind::Unsure => one.unsure = 1,
                kind if (kind == VerdictKind::Agree) == label.applies => one.agreed = 1,
                _ => {
                    one.disagreed = 1;
                    report.disagreements.push(Disagreement { label: label.clone(), verdict: verdict.clone() });
                }
            }
        }
        report.per_concept.entry(label.concept.clone()).or_default().add(&one);
        let said = if label.applies { &mut report.said_yes } else { &mut report.said_no };
        said.add(&one);
    }
    for a in report.per_concept.values() {
        report.overall.add(a);
    }
    report
}

/// One group of scores: how many, and their mean (None when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScoreGroup {
    pub count: usize,
    pub mean: Option<f64>,
}

impl ScoreGroup {
    fn of(scores: &[f64]) -> ScoreGroup {
        ScoreGroup { count: scores.len(), mean: math::mean(scores) }
    }
}

/// How one scorer's scores go with the verdicts on the labels it scored: the scores of labels
/// whose current verdict agreed with the label against those whose verdict did not, and the
/// AUC of the score for telling them apart (0.5: no better than chance).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScoreSeparation {
    pub agreed: ScoreGroup,
    pub disagreed: ScoreGroup,
    /// Labels with an agreeing or disagreeing verdict that the scorer could not score.
    pub failed: usize,
    /// P(score of an agreed label > score of a disagreed one), ties counting ½; None unless
    /// both groups have scores.
    pub auc: Option<f64>,
}

/// [`ScoreSeparation`] of one scorer for labels the source said yes to, said no to, and all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScorerAgreement {
    pub said_yes: ScoreSeparation,
    pub said_no: ScoreSeparation,
    pub overall: ScoreSeparation,
}

/// Per scorer, how the `scores` of `labels` go with `current`, the latest verdict per (neuron,
/// concept). Scores of labels not in `labels`, unchecked or judged unsure are left out.
pub fn score_agreement(
    labels: &[Label],
    scores: &[Score],
    current: &HashMap<(NeuronId, String), Verdict>,
) -> BTreeMap<String, ScorerAgreement> {
    let applies: HashMap<(NeuronId, &str, &str), bool> =
        labels.iter().map(|l| ((l.neuron, l.concept.as_str(), l.source.as_str()), l.applies)).collect();
    // Per scorer and answer (yes, no): scores of agreed labels, of disagreed ones, failures.
    type Groups = [(Vec<f64>, Vec<f64>, usize); 2];
    let mut by_scorer: BTreeMap<&str, Groups> = BTreeMap::new();
    for s in scores {
        let Some(&said_yes) = applies.get(&(s.neuron, s.concept.as_str(), s.source.as_str())) else { continue };
        let Some(verdict) = current.get(&(s.neuron, s.concept.clone())) else { continue };
        if verdict.verdict == VerdictKind::Unsure {
            continue;
        }
        let agreed = (verdict.verdict == VerdictKind::Agree) == said_yes;
        let group = &mut by_scorer.entry(s.scorer.as_str()).or_default()[usize::from(!said_yes)];
        match (s.score, agreed) {
            (None, _) => group.2 += 1,
            (Some(x), true) => group.0.push(x),
            (Some(x), false) => group.1.push(x),
        }
    }
    let separation = |agreed: &[f64], disagreed: &[f64], failed| ScoreSeparation {
        agreed: ScoreGroup::of(agreed),
        disagreed: ScoreGroup::of(disagreed),
        failed,
        auc: math::auc(agreed, disagreed),
    };
    by_scorer
        .into_iter()
        .map(|(scorer, [yes, no])| {
            let all_agreed = [yes.0.as_slice(), &no.0].concat();
            let all_disagreed = [yes.1.as_slice(), &no.1].concat();
            let report = ScorerAgreement {
                said_yes: separation(&yes.0, &yes.1, yes.2),
                said_no: separation(&no.0, &no.1, no.2),
                overall: separation(&all_agreed, &all_disagreed, yes.2 + no.2),
            };
            (scorer.to_string(), report)
        })
        .collect()
}

/// Two sources' yes/no answers on the same pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Contingency {
    pub both_yes: u64,
    /// The first source said yes, the second no.
    pub first_only: u64,
    pub second_only: u64,
    pub both_no: u64,
}

impl Contingency {
    pub fn total(&self) -> u64 {
        self.both_yes + self.first_only + self.second_only + self.both_no
    }

    /// Cohen's kappa: (p_o − p_e) / (1 − p_e), with p_o the observed agreement and p_e the
    /// agreement expected from each source's own yes rate. `None` when there are no pairs or
    /// p_e = 1 (both sources gave one answer only, so chance explains all agreement).
    pub fn kappa(&self) -> Option<f64> {
        let n = self.total() as f64;
        if n == 0.0 {
            return None;
        }
        let p_o = (self.both_yes + self.both_no) as f64 / n;
        let first_yes = (self.both_yes + self.first_only) as f64 / n;
        let second_yes = (self.both_yes + self.second_only) as f64 / n;
        let p_e = first_yes * second_yes + (1.0 - first_yes) * (1.0 - second_yes);
        (p_e < 1.0).then(|| (p_o - p_e) / (1.0 - p_e))
    }

    fn add(&mut self, first: bool, second: bool) {
        match (first, second) {
            (true, true) => self.both_yes += 1,
            (true, false) => self.first_only += 1,
            (false, true) => self.second_only += 1,
            (false, false) => self.both_no += 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceAgreement {
    pub first: String,
    pub second: String,
    pub per_concept: BTreeMap<String, Contingency>,
    pub overall: Contingency,
}

/// Kappa between sources `first` and `second` over the (neuron, concept) pairs both labelled.
pub fn source_agreement(labels: &[Label], first: &str, second: &str) -> SourceAgreement {
    let answers = |source: &str| -> HashMap<(NeuronId, &str), bool> {
        labels.iter().filter(|l| l.source == source).map(|l| ((l.neuron, l.concept.as_str()), l.applies)).collect()
    };
    let (a, b) = (answers(first), answers(second));
    let mut report = SourceAgreement { first: first.into(), second: second.into(), ..Default::default() };
    for (key, &yes_a) in &a {
        if let Some(&yes_b) = b.get(key) {
            report.per_concept.entry(key.1.to_string()).or_default().add(yes_a, yes_b);
            report.overall.add(yes_a, yes_b);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(neuron: &str, concept: &str, source: &str, applies: bool) -> Label {
        Label {
            neuron: neuron.parse().unwrap(),
            concept: concept.into(),
            source: source.into(),
            applies,
            evidence: vec![],
            answer: String::new(),
            time: String::new(),
        }
    }

    fn verdict(id: i64, neuron: &str, concept: &str, verdict: VerdictKind) -> ((NeuronId, String), Verdict) {
        let v = Verdict {
            id,
            neuron: neuron.parse().unwrap(),
            concept: concept.into(),
            verdict,
            note: None,
            corrected: None,
            time: String::new(),
        };
        ((v.neuron, v.concept.clone()), v)
    }

    fn score(neuron: &str, source: &str, scorer: &str, score: Option<f64>) -> Score {
        Score {
            neuron: neuron.parse().unwrap(),
            concept: "add".into(),
            source: source.into(),
            scorer: scorer.into(),
            score,
            failure: score.is_none().then(|| "timeout".to_string()),
            contexts: 10,
            detail: "{}".into(),
            time: String::new(),
        }
    }

    #[test]
    fn scores_are_set_against_the_verdicts_per_scorer_and_answer() {
        let labels = [
            label("L1N1", "add", "gpt", true),  // agreed
            label("L1N2", "add", "gpt", true),  // agreed
            label("L1N3", "add", "gpt", true),  // disagreed
            label("L1N4", "add", "gpt", false), // said no, person disagrees: agreed
            label("L1N5", "add", "gpt", false), // said no, person agrees: disagreed
            label("L1N6", "add", "gpt", true),  // unsure
            label("L1N7", "add", "gpt", true),  // unchecked
        ];
        let current: HashMap<_, _> = [
            verdict(1, "L1N1", "add", VerdictKind::Agree),
            verdict(2, "L1N2", "add", VerdictKind::Agree),
            verdict(3, "L1N3", "add", VerdictKind::Disagree),
            verdict(4, "L1N4", "add", VerdictKind::Disagree),
            verdict(5, "L1N5", "add", VerdictKind::Agree),
            verdict(6, "L1N6", "add", VerdictKind::Unsure),
        ]
        .into();
        let scores = [
            score("L1N1", "gpt", "detection", Some(0.75)),
            score("L1N2", "gpt", "detection", Some(0.25)),
            score("L1N3", "gpt", "detection", Some(0.125)),
            score("L1N4", "gpt", "detection", Some(0.2)),
            score("L1N5", "gpt", "detection", Some(0.2)),
            score("L1N6", "gpt", "detection", Some(0.5)), // unsure: left out
            score("L1N7", "gpt", "detection", Some(0.5)), // unchecked: left out
            score("L1N1", "lexicon", "detection", Some(0.0)), // no such label: left out
            score("L1N1", "gpt", "simulation", None),
            score("L1N3", "gpt", "simulation", Some(0.3)),
        ];
        let r = score_agreement(&labels, &scores, &current);
        let d = r["detection"];
        // Said yes: agreed [0.75, 0.25] against disagreed [0.125]: every pair won, AUC 1.
        assert_eq!(d.said_yes.agreed, ScoreGroup { count: 2, mean: Some(0.5) });
        assert_eq!(d.said_yes.disagreed, ScoreGroup { count: 1, mean: Some(0.125) });
        assert_eq!(d.said_yes.auc, Some(1.0));
        // Said no: agreed [0.2] against disagreed [0.2]: one tie, AUC ½.
        assert_eq!(d.said_no.auc, Some(0.5));
        // All: agreed [0.75, 0.25, 0.2] against [0.125, 0.2]: 0.75 and 0.25 win both (4), 0.2
        // beats 0.125 and ties 0.2 (1.5): 5.5 / 6.
        assert!((d.overall.auc.unwrap() - 5.5 / 6.0).abs() < 1e-12);
        assert_eq!((d.overall.agreed.count, d.overall.disagreed.count, d.overall.failed), (3, 2, 0));
        // Simulation: one failure, one disagreed score, no agreed one: no AUC.
        let s = r["simulation"];
        assert_eq!((s.overall.failed, s.overall.agreed, s.overall.disagreed.count), (1, ScoreGroup::default(), 1));
        assert_eq!(s.overall.auc, None);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn kappa_of_a_hand_computed_table() {
        // 50 pairs: both yes 20, first only 5, second only 10, both no 15.
        // p_o = (20 + 15) / 50 = 0.7. First says yes 25/50 = 0.5, second 30/50 = 0.6.
        // p_e = 0.5·0.6 + 0.5·0.4 = 0.5. kappa = (0.7 − 0.5) / (1 − 0.5) = 0.4.
        let t = Contingency { both_yes: 20, first_only: 5, second_only: 10, both_no: 15 };
        assert!((t.kappa().unwrap() - 0.4).abs() < 1e-12);
        // Perfect agreement with both answers used: p_o = 1, kappa = 1.
        assert_eq!(Contingency { both_yes: 3, both_no: 2, ..Default::default() }.kappa(), Some(1.0));
        // 10 pairs, both yes 1, first only 4, second only 4, both no 1: p_o = 0.2, p_e = 0.5,
        // kappa = (0.2 − 0.5) / 0.5 = −0.6.
        let worse = Contingency { both_yes: 1, first_only: 4, second_only: 4, both_no: 1 };
        assert!((worse.kappa().unwrap() + 0.6).abs() < 1e-12);
        // Everyone says yes: p_e = 1, kappa undefined.
        assert_eq!(Contingency { both_yes: 4, ..Default::default() }.kappa(), None);
        assert_eq!(Contingency::default().kappa(), None);
    }

    #[test]
    fn kappa_counts_only_pairs_both_sources_answered() {
        let labels = [
            label("L1N1", "add", "a", true),
            label("L1N1", "add", "b", true),
            label("L1N2", "add", "a", true),
            label("L1N2", "add", "b", false),
            label("L1N3", "add", "a", false),
            label("L1N3", "add", "b", false),
            label("L1N4", "add", "a", true), // b never answered
            label("L1N1", "formula", "a", false),
            label("L1N1", "formula", "b", true),
            label("L1N1", "formula", "c", true),
        ];
        let r = source_agreement(&labels, "a", "b");
        assert_eq!(r.per_concept["add"], Contingency { both_yes: 1, first_only: 1, second_only: 0, both_no: 1 });
        assert_eq!(r.per_concept["formula"], Contingency { second_only: 1, ..Default::default() });
        assert_eq!(r.overall.total(), 4);
        // Overall: both yes 1, first only 1, second only 1, both no 1: p_o = 0.5, p_e = 0.5, kappa 0.
        assert_eq!(r.overall.kappa(), Some(0.0));
    }

    #[test]
    fn agreement_rate_follows_the_latest_verdict_and_lists_disagreements() {
        let labels = [
            label("L1N1", "add", "gpt", true),      // agreed
            label("L1N2", "add", "gpt", true),      // person disagrees
            label("L1N3", "add", "gpt", false),     // said no, person disagrees too: agreement
            label("L1N4", "add", "gpt", true),      // unsure
            label("L1N5", "add", "gpt", true),      // not checked
            label("L2N1", "formula", "gpt", false), // said no, person agrees it is formula
        ];
        let current: HashMap<_, _> = [
            verdict(1, "L1N1", "add", VerdictKind::Agree),
            verdict(2, "L1N2", "add", VerdictKind::Disagree),
            verdict(3, "L1N3", "add", VerdictKind::Disagree),
            verdict(4, "L1N4", "add", VerdictKind::Unsure),
            verdict(5, "L2N1", "formula", VerdictKind::Agree),
        ]
        .into();
        let r = human_agreement(&labels, &current);
        let add = r.per_concept["add"];
        assert_eq!((add.labels, add.checked, add.agreed, add.disagreed, add.unsure), (5, 4, 2, 1, 1));
        assert!((add.rate().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.per_concept["formula"].rate(), Some(0.0));
        assert_eq!((r.overall.labels, r.overall.checked, r.overall.agreed, r.overall.disagreed), (6, 5, 2, 2));
        // Said yes: L1N1 agreed, L1N2 against, L1N4 unsure, L1N5 unchecked. Said no: L1N3 agreed
        // (the person disagreed with the claim too), L2N1 against.
        let yes = r.said_yes;
        assert_eq!((yes.labels, yes.checked, yes.agreed, yes.disagreed, yes.unsure), (4, 3, 1, 1, 1));
        let no = r.said_no;
        assert_eq!((no.labels, no.checked, no.agreed, no.disagreed, no.unsure), (2, 2, 1, 1, 0));
        assert_eq!(no.rate(), Some(0.5));
        let only_yes = human_agreement(&labels[..2], &current);
        assert_eq!((only_yes.said_no, only_yes.said_no.rate()), (Agreement::default(), None));
        let wrong: Vec<String> = r.disagreements.iter().map(|d| d.label.neuron.to_string()).collect();
        assert_eq!(wrong, ["L1N2", "L2N1"]);
        assert_eq!(Agreement::default().rate(), None);
    }
}
