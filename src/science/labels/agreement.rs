//! How far labels can be trusted: agreement with the human verdicts, and Cohen's kappa between two
//! label sources on the pairs both answered. Pure functions over what the store returns.
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::label::{Label, Verdict, VerdictKind};
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
    pub disagreements: Vec<Disagreement>,
}

/// `labels` judged by `current`, the latest verdict per (neuron, concept).
pub fn human_agreement(labels: &[Label], current: &HashMap<(NeuronId, String), Verdict>) -> HumanAgreement {
    let mut report = HumanAgreement::default();
    for label in labels {
        let a = report.per_concept.entry(label.concept.clone()).or_default();
        a.labels += 1;
        let Some(verdict) = current.get(&(label.neuron, label.concept.clone())) else { continue };
        a.checked += 1;
        match verdict.verdict {
            VerdictKind::Unsure => a.unsure += 1,
            kind if (kind == VerdictKind::Agree) == label.applies => a.agreed += 1,
            _ => {
                a.disagreed += 1;
                report.disagreements.push(Disagreement { label: label.clone(), verdict: verdict.clone() });
            }
        }
    }
    for a in report.per_concept.values() {
        report.overall.add(a);
    }
    report
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
        let wrong: Vec<String> = r.disagreements.iter().map(|d| d.label.neuron.to_string()).collect();
        assert_eq!(wrong, ["L1N2", "L2N1"]);
        assert_eq!(Agreement::default().rate(), None);
    }
}
