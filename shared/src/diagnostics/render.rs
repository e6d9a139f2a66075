//! Reports for people and machines: plain text for the terminal, Telegram
//! HTML in the reader's language (split into messages, never cut), and the
//! versioned JSON document of `--json` (schema in the README).

use serde_json::{Value, json};

use super::{Check, Hypothesis, Report, SCHEMA, Status, Text, Verdict};
use crate::domain::user::Language;
use crate::i18n::{t, t_plain};

/// Telegram's limit for one message's text.
pub const TELEGRAM_LIMIT: usize = 4096;
/// Longest value put into a text (error messages can be long; the rest is
/// in the log).
const VALUE_CHARS: usize = 300;

/// Where a report goes: the terminal (plain) or Telegram (HTML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Plain,
    Html,
}

/// One text in `language`.
pub fn text(language: Language, target: Target, text: &Text) -> String {
    let args: Vec<(&str, String)> = text
        .args
        .iter()
        .map(|(name, value)| (*name, value.chars().take(VALUE_CHARS).collect()))
        .collect();
    let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
    match target {
        Target::Plain => t_plain(language, text.key, &args),
        Target::Html => t(language, text.key, &args),
    }
}

fn bold(target: Target, text: &str) -> String {
    match target {
        Target::Plain => text.to_owned(),
        Target::Html => format!("<b>{text}</b>"),
    }
}

fn code(target: Target, text: &str) -> String {
    match target {
        Target::Plain => text.to_owned(),
        Target::Html => format!("<code>{}</code>", crate::i18n::escape_html(text)),
    }
}

fn status_word(language: Language, status: Status) -> String {
    t(
        language,
        match status {
            Status::Ok => "diag.status.ok",
            Status::Warn => "diag.status.warn",
            Status::Fail => "diag.status.fail",
        },
        &[],
    )
}

fn verdict_word(language: Language, verdict: Verdict) -> String {
    t(
        language,
        match verdict {
            Verdict::Confirmed => "diag.verdict.confirmed",
            Verdict::Rejected => "diag.verdict.rejected",
            Verdict::Inconclusive => "diag.verdict.inconclusive",
        },
        &[],
    )
}

fn hypothesis_name(language: Language, hypothesis: &Hypothesis) -> String {
    t(language, &format!("diag.hyp.{}", hypothesis.id), &[])
}

/// The top of every report: status, then the root cause and its fix (or
/// the worst problem when no hypothesis explains it).
fn head(report: &Report, language: Language, target: Target) -> Vec<String> {
    let status = report.status();
    let mut lines = vec![bold(
        target,
        &t_plain(
            language,
            "diag.report.title",
            &[
                ("icon", status.icon()),
                ("mode", report.mode.as_str()),
                ("status", &status_word(language, status)),
                ("ms", &report.duration_ms.to_string()),
            ],
        ),
    )];
    if let Some(cause) = report.root_cause() {
        lines.push(format!(
            "{} {}",
            bold(
                target,
                &t_plain(
                    language,
                    "diag.report.root_cause",
                    &[
                        ("cause", &hypothesis_name(language, cause)),
                        ("confidence", &cause.confidence.to_string()),
                    ],
                ),
            ),
            text(language, target, &cause.evidence)
        ));
        lines.push(format!(
            "{} {}",
            bold(target, &t_plain(language, "diag.report.fix", &[])),
            text(language, target, &cause.fix)
        ));
    } else if let Some(worst) = report.triage().first() {
        if let Some(evidence) = worst.evidence.first() {
            lines.push(format!(
                "{} {}",
                bold(target, &t_plain(language, "diag.report.worst", &[])),
                text(language, target, evidence)
            ));
        }
        if let Some(fix) = &worst.fix {
            lines.push(format!(
                "{} {}",
                bold(target, &t_plain(language, "diag.report.fix", &[])),
                text(language, target, fix)
            ));
        }
    } else {
        lines.push(t(language, "diag.report.all_ok", &[]));
    }
    lines
}

/// One line per check (icon, name, figure), and for a problem its
/// priority, kind and first finding: the phone-sized report.
fn check_lines(check: &Check, language: Language, target: Target, detailed: bool) -> Vec<String> {
    let mut first = format!(
        "{} {} — {}",
        check.status.icon(),
        bold(target, &check.name),
        match target {
            Target::Plain => check.figure.clone(),
            Target::Html => crate::i18n::escape_html(&check.figure),
        }
    );
    if let (Some(priority), Some(kind)) = (check.priority, check.kind) {
        first.push_str(&format!(" [{priority:?} {}]", kind.as_ref()));
    }
    let mut lines = vec![first];
    let shown = if detailed || check.status == Status::Ok {
        if detailed { check.evidence.len() } else { 0 }
    } else {
        1
    };
    for evidence in check.evidence.iter().take(shown) {
        lines.push(format!("   · {}", text(language, target, evidence)));
    }
    if detailed && let Some(fix) = &check.fix {
        lines.push(format!("   → {}", text(language, target, fix)));
    }
    if !check.correlation_ids.is_empty() {
        let ids: Vec<String> = check
            .correlation_ids
            .iter()
            .map(|id| code(target, id))
            .collect();
        lines.push(format!(
            "   {} {}",
            t_plain(language, "diag.report.correlation", &[]),
            ids.join(", ")
        ));
    }
    lines
}

/// The report as lines: `detailed` adds every finding, the fixes, the
/// hypotheses and the trends (the full report).
pub fn lines(report: &Report, language: Language, target: Target, detailed: bool) -> Vec<String> {
    let mut lines = head(report, language, target);
    lines.push(String::new());
    for check in &report.checks {
        lines.extend(check_lines(check, language, target, detailed));
    }
    if !report.repairs.is_empty() {
        lines.push(String::new());
        lines.push(bold(target, &t_plain(language, "diag.report.repairs", &[])));
        for outcome in &report.repairs {
            let state = match (outcome.applied, outcome.ok) {
                (false, _) => t_plain(language, "diag.repair.planned", &[]),
                (true, true) => t_plain(language, "diag.repair.applied", &[]),
                (true, false) => t_plain(language, "diag.repair.not_applied", &[]),
            };
            lines.push(format!(
                "   {} {} — {state}: {}",
                if outcome.ok { "🔧" } else { "❌" },
                code(target, outcome.repair.id()),
                text(language, target, &outcome.detail)
            ));
        }
    } else if !detailed {
        let offered = report.offered_repairs();
        if !offered.is_empty() {
            let ids: Vec<String> = offered.iter().map(|r| code(target, r.id())).collect();
            lines.push(String::new());
            lines.push(format!(
                "🔧 {} {}",
                t_plain(language, "diag.report.offered", &[]),
                ids.join(", ")
            ));
        }
    }
    if detailed {
        lines.push(String::new());
        lines.push(bold(
            target,
            &t_plain(language, "diag.report.hypotheses", &[]),
        ));
        for hypothesis in &report.hypotheses {
            let mark = match hypothesis.verdict {
                Verdict::Confirmed => "❗",
                Verdict::Rejected => "✔️",
                Verdict::Inconclusive => "❔",
            };
            lines.push(format!(
                "{mark} {} — {} ({} %): {}",
                hypothesis_name(language, hypothesis),
                verdict_word(language, hypothesis.verdict),
                hypothesis.confidence,
                text(language, target, &hypothesis.evidence)
            ));
        }
        if !report.trends.is_empty() {
            lines.push(String::new());
            lines.push(bold(target, &t_plain(language, "diag.report.trends", &[])));
            for trend in &report.trends {
                lines.push(format!(
                    "   {} {}: {} run(s), p50 {} ms, p95 {} ms, {:.0} % errors",
                    trend.window,
                    trend.job_type,
                    trend.runs,
                    trend.p50_ms,
                    trend.p95_ms,
                    trend.error_rate * 100.0
                ));
            }
        }
    }
    lines
}

/// The report for a terminal, in English.
pub fn plain(report: &Report, detailed: bool) -> String {
    let mut out = lines(report, Language::En, Target::Plain, detailed).join("\n");
    out.push('\n');
    out
}

/// Lines packed into Telegram messages of at most `limit` characters,
/// split between lines (a longer line is split between characters): the
/// whole report arrives, in order, never cut.
pub fn split_messages(lines: &[String], limit: usize) -> Vec<String> {
    let mut messages = Vec::new();
    let mut current = String::new();
    let push_piece = |current: &mut String, piece: &str, messages: &mut Vec<String>| {
        let needed = piece.chars().count() + usize::from(!current.is_empty());
        if current.chars().count() + needed > limit && !current.is_empty() {
            messages.push(std::mem::take(current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(piece);
    };
    for line in lines {
        if line.chars().count() <= limit {
            push_piece(&mut current, line, &mut messages);
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        for chunk in chars.chunks(limit) {
            let chunk: String = chunk.iter().collect();
            push_piece(&mut current, &chunk, &mut messages);
        }
    }
    if !current.trim().is_empty() {
        messages.push(current);
    }
    messages
}

fn english(text: &Text) -> String {
    self::text(Language::En, Target::Plain, text)
}

/// The `--json` document (schema `scheduler.diagnose/1`, see the README).
pub fn json(report: &Report) -> Value {
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|check| {
            json!({
                "name": check.name,
                "status": check.status,
                "figure": check.figure,
                "priority": check.priority,
                "kind": check.kind,
                "evidence": check.evidence.iter().map(|e| json!({"key": e.key, "text": english(e)})).collect::<Vec<_>>(),
                "fix": check.fix.as_ref().map(english),
                "correlation_ids": check.correlation_ids,
                "repairs": check.repairs.iter().map(|r| r.id()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let hypotheses: Vec<Value> = report
        .hypotheses
        .iter()
        .map(|h| {
            json!({
                "id": h.id,
                "verdict": h.verdict,
                "confidence": h.confidence,
                "priority": h.priority,
                "kind": h.kind,
                "evidence": english(&h.evidence),
                "fix": english(&h.fix),
            })
        })
        .collect();
    let triage: Vec<Value> = report
        .triage()
        .iter()
        .map(|c| {
            json!({
                "check": c.name,
                "status": c.status,
                "priority": c.priority,
                "kind": c.kind,
                "summary": c.evidence.first().map(english).unwrap_or_default(),
            })
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "version": env!("CARGO_PKG_VERSION"),
        "mode": report.mode.as_str(),
        "generated_at": report.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "duration_ms": report.duration_ms,
        "status": report.status(),
        "exit_code": report.exit_code(),
        "root_cause": report.root_cause().map(|h| json!({
            "hypothesis": h.id,
            "confidence": h.confidence,
            "priority": h.priority,
            "kind": h.kind,
            "evidence": english(&h.evidence),
            "fix": english(&h.fix),
        })),
        "triage": triage,
        "checks": checks,
        "hypotheses": hypotheses,
        "trends": report.trends,
        "repairs": report.repairs.iter().map(|o| json!({
            "id": o.repair.id(),
            "applied": o.applied,
            "ok": o.ok,
            "detail": english(&o.detail),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reports_are_split_between_lines_and_never_cut() {
        let lines: Vec<String> = (0..500)
            .map(|i| format!("line {i} {}", "x".repeat(40)))
            .collect();
        let messages = split_messages(&lines, 1000);
        assert!(messages.len() > 1);
        assert!(messages.iter().all(|m| m.chars().count() <= 1000));
        assert_eq!(messages.join("\n"), lines.join("\n"));
    }

    #[test]
    fn a_line_longer_than_a_message_is_split_between_characters() {
        let lines = vec!["ab".repeat(30), "end".to_owned()];
        let messages = split_messages(&lines, 25);
        assert!(messages.iter().all(|m| m.chars().count() <= 25));
        assert_eq!(
            messages.concat().replace('\n', ""),
            format!("{}end", "ab".repeat(30))
        );
    }
}
