//! Reading failure modes from pasted CSV or a Markdown table: a header row naming the
//! columns, then one failure mode per row. Every row is checked; the caller imports only
//! when none has an error.

use app::domain::AppError;
use app::domain::failure_mode::{FailureModeFields, FailureModeInput, TEXTS};

/// Rows an import may have.
pub const MAX_ROWS: usize = 500;

/// The columns besides the texts, by the names a header may use (case and spaces do not
/// matter). A text ([`TEXTS`]) is named by its name or its label.
const COLUMNS: [(&str, &[&str]); 6] = [
    ("title", &["title", "failure mode", "name"]),
    ("severity", &["severity", "s"]),
    ("likelihood", &["likelihood", "l"]),
    ("detectability", &["detectability", "d"]),
    ("designs", &["designs", "design"]),
    ("tests", &["tests", "test selectors", "selectors"]),
];

/// The column a header cell names, if any.
fn column(name: &str) -> Option<&'static str> {
    let text = TEXTS.iter().find(|t| normalise(t.name) == name || normalise(t.label) == name);
    text.map(|t| t.name).or_else(|| COLUMNS.iter().find(|(_, names)| names.contains(&name)).map(|(c, _)| *c))
}

/// Every column's name, as a refusal lists them.
fn column_names() -> String {
    let mut names: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
    names.splice(1..1, TEXTS.iter().map(|t| t.name));
    names.join(", ")
}

/// One data row: its line in the pasted text, and the failure mode or why not.
#[derive(Debug)]
pub struct Row {
    pub line: usize,
    pub result: Result<FailureModeInput, String>,
}

fn normalise(header: &str) -> String {
    header.trim().trim_matches('*').trim().to_lowercase().replace(['_', '-'], " ")
}

/// Which column each header cell is; unknown headers are refused by name.
fn columns(header: &[String]) -> Result<Vec<&'static str>, AppError> {
    let mut out = Vec::new();
    for cell in header {
        let name = normalise(cell);
        let column = column(&name).ok_or_else(|| {
            AppError::invalid(
                "text",
                format!("Unknown column {:?}. Use: {}.", app::domain::error::bounded(cell), column_names()),
            )
        })?;
        if out.contains(&column) {
            return Err(AppError::invalid("text", format!("The column {column:?} appears twice.")));
        }
        out.push(column);
    }
    if !out.contains(&"title") {
        return Err(AppError::invalid("text", "The header row needs a \"title\" column."));
    }
    Ok(out)
}

/// Cells of one Markdown table row: split on `|` not escaped as `\|`.
fn markdown_cells(line: &str) -> Vec<String> {
    let inner = line.trim().strip_prefix('|').unwrap_or(line.trim());
    let inner = inner.strip_suffix('|').filter(|s| !s.ends_with('\\')).unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells.into_iter().map(|c| c.trim().replace("<br>", "\n")).collect()
}

fn is_separator(cells: &[String]) -> bool {
    cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}

/// A data row's line number and cells.
type Record = (usize, Vec<String>);

/// The header and the data rows of a Markdown table or CSV.
fn records(text: &str) -> Result<(Vec<String>, Vec<Record>), AppError> {
    // A Markdown table may come with text around it; its rows start with "|".
    if text.lines().any(|l| l.trim_start().starts_with('|')) {
        let mut rows = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim().starts_with('|'))
            .map(|(i, l)| (i + 1, markdown_cells(l)));
        let (_, header) = rows.next().ok_or_else(|| AppError::invalid("text", "The table is empty."))?;
        let data = rows.filter(|(_, cells)| !is_separator(cells)).collect();
        return Ok((header, data));
    }
    let mut reader =
        csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::invalid("text", format!("The header row could not be read as CSV: {e}.")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut data = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| AppError::invalid("text", format!("The CSV could not be read: {e}.")))?;
        let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
        data.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok((header, data))
}

/// Parses pasted CSV or a Markdown table. Errors about the whole text (no header, unknown
/// columns, too many rows) are an `Err`; each row carries its own.
pub fn parse(text: &str) -> Result<Vec<Row>, AppError> {
    if text.trim().is_empty() {
        return Err(AppError::invalid("text", "Paste a CSV or a Markdown table with a header row."));
    }
    let (header, data) = records(text)?;
    let columns = columns(&header)?;
    let data: Vec<_> = data.into_iter().filter(|(_, cells)| cells.iter().any(|c| !c.is_empty())).collect();
    if data.is_empty() {
        return Err(AppError::invalid("text", "There are no rows under the header."));
    }
    if data.len() > MAX_ROWS {
        return Err(AppError::invalid(
            "text",
            format!("At most {MAX_ROWS} rows at a time; this has {}.", data.len()),
        ));
    }
    Ok(data
        .into_iter()
        .map(|(line, cells)| {
            let result = if cells.len() > columns.len() {
                Err(format!("has {} cells; the header has {} columns", cells.len(), columns.len()))
            } else {
                let get = |name: &str| -> String {
                    columns
                        .iter()
                        .position(|c| *c == name)
                        .and_then(|i| cells.get(i))
                        .cloned()
                        .unwrap_or_default()
                };
                // Designs and tests may be separated by ";" within a cell.
                let lines =
                    |name: &str| get(name).split([';', '\n']).map(str::trim).collect::<Vec<_>>().join("\n");
                // The selectors' column is called "tests" here.
                FailureModeInput::try_from(FailureModeFields::named(|name| match name {
                    "designs" => lines("designs"),
                    "selectors" => lines("tests"),
                    other => get(other),
                }))
                .map_err(|e| e.to_string())
            };
            Row { line, result }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_failure_modes_and_bad_rows_say_why() {
        let text = "Title,Scenario,Severity,Likelihood,Detectability,Designs,Tests\n\
                    Backlog after outage,\"10,000 exams queued\",4,3,2,Backpressure ADR https://wiki.example/adr;Runbook,queue::backlog_*\n\
                    ,no title,3,3,3,,\n\
                    Scaling slows down,25 → 50 workers,9,3,3,,\n";
        let rows = parse(text).expect("parsed");
        assert_eq!(rows.len(), 3);
        let first = rows[0].result.as_ref().expect("valid");
        assert_eq!(first.texts.get("scenario"), "10,000 exams queued");
        assert_eq!(first.designs.len(), 2);
        assert_eq!(first.selectors[0].as_str(), "queue::backlog_*");
        assert_eq!(rows[1].line, 3);
        assert!(rows[1].result.as_ref().expect_err("no title").contains("Title"));
        assert!(rows[2].result.as_ref().expect_err("severity 9").contains("Severity"));
    }

    #[test]
    fn a_markdown_table_reads_like_csv() {
        let text = "Our list:\n\n| Failure mode | S | L | D | Tests |\n|---|:-:|---|---|---|\n\
                    | No fast lane \\| urgent exams | 5 | 2 | 3 | queue::priority_* |\n";
        let rows = parse(text).expect("parsed");
        assert_eq!(rows.len(), 1);
        let fm = rows[0].result.as_ref().expect("valid");
        assert_eq!(fm.title, "No fast lane | urgent exams");
        assert_eq!(fm.ratings.severity.get(), 5);
        assert_eq!(rows[0].line, 5);
    }

    #[test]
    fn the_whole_text_is_refused_for_unknown_columns_or_no_title() {
        assert!(parse("title,colour\nx,red").expect_err("unknown").to_string().contains("colour"));
        assert!(parse("scenario,severity\nx,3").expect_err("no title").to_string().contains("title"));
        assert!(parse("  ").is_err());
        assert!(parse("title\n").is_err());
    }
}
