//! The Prometheus text exposition format (version 0.0.4), read strictly enough for tests to
//! check `/metrics` by series rather than by substring: every line must be blank, a comment
//! (`# HELP`, `# TYPE`, other) or a sample `name{label="value",...} value [timestamp]`.

use std::collections::{BTreeMap, HashMap};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A whole exposition: its samples, in order, and the `# TYPE` of each family.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub types: HashMap<String, String>,
}

impl Exposition {
    /// Samples named `name` whose labels include every pair of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .collect()
    }

    /// The value of the one sample `name` with `labels`; `None` if there is none, and a
    /// panic if there are several (the labels do not name one series).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.find(name, labels).as_slice() {
            [] => None,
            [one] => Some(one.value),
            many => panic!("{} samples of {name} with {labels:?}: {many:?}", many.len()),
        }
    }

    /// Like [`Exposition::value`], a series not there (yet) counting as 0: for counters a
    /// test reads before and after.
    pub fn or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or(0.0)
    }

    /// The `# TYPE` of the family `name` (`counter`, `gauge`, `histogram`, `summary`).
    pub fn type_of(&self, name: &str) -> Option<&str> {
        self.types.get(name).map(String::as_str)
    }
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Parses `text`, or says which line is not in the format.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let wrong = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.split_whitespace().collect();
            if let ["TYPE", name, kind] = words.as_slice() {
                exposition
                    .types
                    .insert((*name).to_owned(), (*kind).to_owned());
            }
        } else if !line.is_empty() {
            exposition
                .samples
                .push(sample(line).map_err(|why| wrong(&why))?);
        }
    }
    Ok(exposition)
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || !name.chars().all(valid)
    {
        return Err("not a metric name".into());
    }
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(rest) => labels(rest)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = value.parse::<f64>().map_err(|_| "not a number")?;
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().map_err(|_| "not a timestamp")?;
    }
    if fields.next().is_some() {
        return Err("trailing text".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// The labels after `{`, and what follows the closing `}`.
fn labels(mut rest: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after) = rest.split_once("=\"").ok_or("a label without =\"")?;
        let (value, after) = quoted(after)?;
        if labels.insert(key.trim().to_owned(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// A label value up to its closing quote, unescaped, and what follows the quote.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, c @ ('\\' | '"'))) => value.push(c),
                _ => return Err("a bad escape in a label value".into()),
            },
            c => value.push(c),
        }
    }
    Err("a label value without its closing quote".into())
}

/// `GET {base_url}/metrics`, checked to be 200 in the text format, parsed.
pub async fn scrape(client: &reqwest::Client, base_url: &str) -> Exposition {
    let response = client
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200, "GET /metrics");
    let content_type = response.headers()["content-type"].to_str().unwrap_or("");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type}"
    );
    let text = response.text().await.expect("the /metrics body");
    parse(&text).unwrap_or_else(|e| panic!("/metrics is not in the text format: {e}\n{text}"))
}

/// Scrapes `base_url` until the series `name` with `labels` is there and `holds` for its
/// value; panics with the last value after 10 s.
pub async fn eventually(
    base_url: &str,
    name: &str,
    labels: &[(&str, &str)],
    holds: impl Fn(f64) -> bool,
) {
    let client = reqwest::Client::new();
    let mut last = None;
    for _ in 0..100 {
        last = scrape(&client, base_url).await.value(name, labels);
        if last.is_some_and(&holds) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name}{labels:?} never held: last {last:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels_and_escapes_are_read() {
        let text = "# HELP x_total Things.\n# TYPE x_total counter\n\
                    x_total{a=\"1\",b=\"q\\\"uo\\\\te\"} 3\nup 1 1700000000\n\
                    h_bucket{le=\"+Inf\"} 2\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.type_of("x_total"), Some("counter"));
        assert_eq!(parsed.value("x_total", &[("b", "q\"uo\\te")]), Some(3.0));
        assert_eq!(parsed.value("up", &[]), Some(1.0));
        assert_eq!(parsed.value("h_bucket", &[("le", "+Inf")]), Some(2.0));
    }

    #[test]
    fn a_line_out_of_the_format_is_refused() {
        assert!(parse("x_total{a=\"1\" 3\n").is_err());
        assert!(parse("x_total three\n").is_err());
        assert!(parse("{a=\"1\"} 3\n").is_err());
    }
}
